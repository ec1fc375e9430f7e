"""``SqliteRunStore``: the default ``RunStore``, one SQLite file shared by processes.

Every method is a single statement in autocommit mode (SQLite takes the write lock
before reading, so a conditional UPDATE is atomic), except ``create_runs`` and
``put_app``, which run in ``BEGIN IMMEDIATE``, and schema set-up. The connection,
its durability settings and its checkpoints: ``scd_core.stores.sqlite_connection``;
the schema and its migrations: ``scd_core.stores.sqlite_schema``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from scd_core.errors import BackendError, BadRequest, Conflict, NotFound, ScdError
from scd_core.models import Run, StepState
from scd_core.store import Created, TokenRecord
from scd_core.stores.rows import (
    UNREADABLE,
    check_control_action,
    check_list_args,
    decode_cursor,
    dump_model,
    encode_cursor,
    epoch_us,
    load_model,
    normalise_run,
    normalise_step,
    to_utc,
    unreadable_run,
    update_refusal,
)
from scd_core.stores.sqlite_connection import SqliteConnection
from scd_core.stores.sqlite_inserts import (
    BATCH_ROWS,
    Inserted,
    insert_run,
    insert_runs,
    run_row,
)
from scd_core.stores.sqlite_schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "SqliteRunStore"]

_UPDATE_RUN = (
    "UPDATE runs SET status = ?, version = ?, data = ?"
    " WHERE id = ? AND version = ? AND app = ? AND dedup_key = ? AND created_us = ?"
)
_ACQUIRE = (
    "INSERT INTO leases (key, owner, expires) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
    " SET owner = excluded.owner, expires = excluded.expires"
    " WHERE leases.owner = excluded.owner OR leases.expires <= ?"
)
_REQUEST = (
    "INSERT INTO controls (run_id, action) VALUES (?, ?) ON CONFLICT (run_id) DO UPDATE"
    " SET action = excluded.action WHERE controls.action != 'cancel'"
)


class SqliteRunStore(SqliteConnection):
    """A ``RunStore`` in the SQLite file ``path`` (created with its parent directory).

    ``busy_timeout_s`` bounds how long a call waits for another process's write
    lock before it fails with ``BackendError``; ``clock`` gives lease time (seconds,
    the same clock in every process sharing the file); ``checkpoint_interval_s`` is
    the period of the background WAL checkpoint, and 0 runs no thread (SQLite then
    checkpoints inside commits, every 1000 pages: for a process that must ``fork``
    without threads, which Python 3.12 warns about).

    Opening migrates a file written by an older release in place
    (``scd_core.stores.sqlite_schema``); ``migrated_from`` is then the version it had,
    else None. A file of a newer release is refused with ``ConfigError``.
    """

    # -- runs -----------------------------------------------------------------------

    def create_run(self, run: Run) -> tuple[Run, bool]:
        normal = normalise_run(run)
        row = run_row(normal)
        with self._use("create_run") as db:
            answer = insert_run(db, row)
        if isinstance(answer, ScdError):
            raise answer
        return _created(answer, normal)

    def create_runs(self, runs: Sequence[Run]) -> list[Created]:
        """``create_run`` of each run in one transaction: one commit for all of them.

        Answers in order, each ``(run, created)`` or the ``ScdError`` that
        ``create_run`` would raise for it (a conflicting id, a key SQLite cannot
        store); those runs are not written, the others are. If the transaction
        fails as a whole, ``BackendError`` is raised and none is written. Runs with
        one dedup key in one batch behave as if created one after another.
        """
        normal = [normalise_run(run) for run in runs]
        rows = [run_row(run) for run in normal]
        with self._use("create_runs") as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                answers: list[Inserted] = []
                for start in range(0, len(rows), BATCH_ROWS):
                    answers += insert_runs(db, rows[start : start + BATCH_ROWS])
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return [
            answer if isinstance(answer, ScdError) else _created(answer, run)
            for answer, run in zip(answers, normal, strict=True)
        ]

    def get_run(self, run_id: str) -> Run:
        with self._use("get_run") as db:
            row = db.execute("SELECT data, number FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFound(f"no run {run_id!r}")
        try:
            return _load_run(row[0], row[1])
        except BackendError as exc:
            raise BackendError(f"run {run_id}: {UNREADABLE}") from exc

    def end_unreadable(self) -> list[str]:
        """Set ``error`` on every unfinished run whose record cannot be decoded (an
        earlier release's), so none stays queued or running for ever; their ids. Only
        the status column changes: the listing's stand-in shows it (the record stays as
        it was, for whoever wants to read it by hand). ``scd serve`` calls it at start."""
        with self._use("end_unreadable") as db:
            rows = db.execute(
                "SELECT id, data FROM runs WHERE status IN ('queued', 'pending', "
                "'running', 'paused')"
            ).fetchall()
        ended = []
        for run_id, data in rows:
            try:
                _load_run(data, None)
            except BackendError:
                ended.append(run_id)
        if ended:
            with self._use("end_unreadable") as db:
                db.executemany(
                    "UPDATE runs SET status = 'error' WHERE id = ?", [(i,) for i in ended]
                )
        return ended

    def find_run(self, dedup_key: str) -> Run | None:
        with self._use("find_run") as db:
            row = db.execute(
                "SELECT data, number FROM runs WHERE dedup_key = ?", (dedup_key,)
            ).fetchone()
        return None if row is None else _load_run(row[0], row[1])

    def update_run(self, run: Run) -> Run:
        if run.unreadable:
            raise BadRequest(f"run {run.id!r}: an unreadable record cannot be updated")
        new = normalise_run(run).model_copy(update={"version": run.version + 1})
        created = epoch_us(new.created_at)
        args = (new.status, new.version, dump_model(new))
        key = (run.id, run.version, run.app, run.dedup_key, created)
        with self._use("update_run") as db:
            if db.execute(_UPDATE_RUN, args + key).rowcount == 1:
                return new
            row = db.execute(
                "SELECT version, app, dedup_key, created_us FROM runs WHERE id = ?", (run.id,)
            ).fetchone()
        raise update_refusal(run, None if row is None else row[0])

    def list_runs(
        self,
        *,
        app: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        event: str | None = None,
        branch: str | None = None,
    ) -> tuple[list[Run], str | None]:
        check_list_args(status, limit)
        where: list[str] = []
        params: list[object] = []
        filters = (
            ("app = ?", app),
            ("status = ?", status),
            # event and branch live only in the run's JSON: no schema change for a filter
            ("json_extract(data, '$.event.event_name') = ?", event),
            ("json_extract(data, '$.event.branch') = ?", branch),
        )
        for clause, value in filters:
            if value is not None:
                where.append(clause)
                params.append(value)
        if cursor is not None:
            where.append("(created_us, id) < (?, ?)")
            params.extend(decode_cursor(cursor))
        sql = "SELECT created_us, id, data, number, app, dedup_key, status, version FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_us DESC, id DESC LIMIT ?"
        params.append(limit + 1)
        with self._use("list_runs") as db:
            rows = db.execute(sql, params).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        runs = [_listed_run(*row) for row in rows]
        next_cursor = encode_cursor(rows[-1][0], rows[-1][1]) if more else None
        return runs, next_cursor

    # -- steps and control ----------------------------------------------------------------

    def put_step(self, run_id: str, step: StepState) -> None:
        step = normalise_step(step)
        row = (run_id, step.task, step.id, step.index, dump_model(step))
        with self._use("put_step") as db:
            db.execute(
                "INSERT OR REPLACE INTO steps (run_id, task, step_id, idx, data)"
                " VALUES (?, ?, ?, ?, ?)",
                row,
            )

    def list_steps(self, run_id: str, task: str | None = None) -> list[StepState]:
        with self._use("list_steps") as db:
            if task is None:
                rows = db.execute(
                    "SELECT data FROM steps WHERE run_id = ? ORDER BY task, idx, step_id",
                    (run_id,),
                ).fetchall()
            else:
                rows = db.execute(
                    "SELECT data FROM steps WHERE run_id = ? AND task = ? ORDER BY idx, step_id",
                    (run_id, task),
                ).fetchall()
        return [normalise_step(load_model(StepState, data)) for (data,) in rows]

    def request_control(self, run_id: str, action: str) -> None:
        check_control_action(action)
        with self._use("request_control") as db:
            # runs are never deleted, so the existence check cannot go stale
            if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise NotFound(f"no run {run_id!r}")
            db.execute(_REQUEST, (run_id, action))

    def get_control(self, run_id: str) -> str | None:
        with self._use("get_control") as db:
            row = db.execute("SELECT action FROM controls WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else str(row[0])

    # -- apps and tokens ----------------------------------------------------------------

    def put_app(self, name: str, spec: dict[str, Any]) -> bool:
        text = json.dumps(spec)
        with self._use("put_app") as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                found = db.execute("SELECT 1 FROM apps WHERE name = ?", (name,)).fetchone()
                db.execute("INSERT OR REPLACE INTO apps (name, spec) VALUES (?, ?)", (name, text))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return found is None

    def get_app(self, name: str) -> dict[str, Any] | None:
        with self._use("get_app") as db:
            row = db.execute("SELECT spec FROM apps WHERE name = ?", (name,)).fetchone()
        return None if row is None else _load_spec(row[0])

    def list_apps(self) -> list[tuple[str, dict[str, Any]]]:
        with self._use("list_apps") as db:
            rows = db.execute("SELECT name, spec FROM apps ORDER BY name").fetchall()
        return [(str(name), _load_spec(spec)) for name, spec in rows]

    def delete_app(self, name: str) -> None:
        with self._use("delete_app") as db:
            gone = db.execute("DELETE FROM apps WHERE name = ?", (name,)).rowcount
        if gone != 1:
            raise NotFound(f"no app {name!r} in the store")

    def put_token(
        self, name: str, sha256: str, scopes: Sequence[str], created_at: datetime
    ) -> TokenRecord:
        record = TokenRecord(
            name=name, sha256=sha256, scopes=tuple(scopes), created_at=to_utc(created_at)
        )
        with self._use("put_token") as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO tokens (name, sha256, data) VALUES (?, ?, ?)",
                (name, sha256, record.model_dump_json()),
            )
        if cur.rowcount != 1:
            raise Conflict(f"a token named {name!r} (or with this digest) exists")
        return record

    def list_tokens(self) -> list[TokenRecord]:
        with self._use("list_tokens") as db:
            rows = db.execute("SELECT data FROM tokens ORDER BY name").fetchall()
        return [_load_token(data) for (data,) in rows]

    def revoke_token(self, name: str) -> None:
        with self._use("revoke_token") as db:
            cur = db.execute(
                "UPDATE tokens SET data = json_set(data, '$.revoked', json('true')) WHERE name = ?",
                (name,),
            )
        if cur.rowcount != 1:
            raise NotFound(f"no token named {name!r}")

    def find_token(self, sha256: str) -> TokenRecord | None:
        with self._use("find_token") as db:
            row = db.execute("SELECT data FROM tokens WHERE sha256 = ?", (sha256,)).fetchone()
        return None if row is None else _load_token(row[0])

    # -- leases and claims ------------------------------------------------------------------

    def acquire_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        now = self._clock()
        with self._use("acquire_lease") as db:
            return db.execute(_ACQUIRE, (key, owner, now + ttl_s, now)).rowcount == 1

    def renew_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        now = self._clock()
        with self._use("renew_lease") as db:
            cur = db.execute(
                "UPDATE leases SET expires = ? WHERE key = ? AND owner = ? AND expires > ?",
                (now + ttl_s, key, owner, now),
            )
            return cur.rowcount == 1

    def release_lease(self, key: str, owner: str) -> None:
        with self._use("release_lease") as db:
            db.execute("DELETE FROM leases WHERE key = ? AND owner = ?", (key, owner))

    def claim_once(self, key: str) -> bool:
        with self._use("claim_once") as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO claims (key, claimed) VALUES (?, ?)", (key, self._clock())
            )
            return cur.rowcount == 1


def _created(answer: int | tuple[str, int], run: Run) -> tuple[Run, bool]:
    if isinstance(answer, int):
        return run.model_copy(update={"number": answer}), True
    return _load_run(*answer), False


def _load_token(data: str) -> TokenRecord:
    record = load_model(TokenRecord, data)
    return record.model_copy(update={"created_at": to_utc(record.created_at)})


def _load_spec(text: str) -> dict[str, Any]:
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise BackendError("a stored app spec is unreadable") from exc
    if not isinstance(spec, dict):
        raise BackendError("a stored app spec is not a mapping")
    return spec


def _load_run(data: str, number: int | None) -> Run:
    """The stored run; its number is the column's (the JSON's is what a writer passed,
    and a run recorded before schema version 3 has none in its JSON)."""
    run = normalise_run(load_model(Run, data))
    return run if run.number == number else run.model_copy(update={"number": number})


def _listed_run(
    created_us: int,
    run_id: str,
    data: str,
    number: int | None,
    app: str,
    dedup_key: str,
    status: str,
    version: int,
) -> Run:
    """A listed run, or its stand-in when the record cannot be decoded: one bad record
    must not fail a page."""
    try:
        return _load_run(data, number)
    except BackendError:
        stand_in = unreadable_run(run_id, app, dedup_key, status, created_us, version)
        return stand_in.model_copy(update={"number": number})
