"""``TaskQueue``: the durable SQLite table of async tasks behind ``LocalInvoker``.

One row per task (the job id, FC's ``x-fc-async-task-id``) with its FC status:
``Enqueued`` → ``Running`` → ``Succeeded`` | ``Retrying`` (→ ``Running`` again) |
``Failed``; ``Enqueued``/``Retrying`` → ``Expired`` (max event age) or ``Stopped``;
``Running`` → ``Stopping`` → ``Stopped``. ``task_events`` keeps each transition;
``payloads`` keeps each job apart, so status updates never rewrite it.

Concurrency: every transition is one ``BEGIN IMMEDIATE`` transaction, so SQLite's
write lock makes "read the candidate, update it" atomic across threads and processes:
a task is claimed by exactly one owner at a time. A claim sets a lease (owner,
expiry); only the lease owner can record the attempt's result, and a ``Running``
task whose lease expired is settled as a failed attempt ("worker lost") by whoever
sees it first. Idle polling only reads (WAL readers never block writers).
The file is in WAL mode with ``synchronous=NORMAL``: a commit survives any crash of
the process. Times are seconds from the caller's clock (the same in every process).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from scd_core.errors import BackendError
from scd_core.invokers.results import (
    AsyncTask,
    AsyncTaskEvent,
    Attempt,
    Condition,
    InvocationResult,
    Policy,
    TaskStatus,
)
from scd_core.stores.checkpointer import Checkpointer

__all__ = ["TaskQueue", "Transition"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    enqueued_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    lease_owner TEXT,
    lease_expires REAL,
    request_id TEXT,
    endpoint TEXT,
    error TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status, enqueued_at);
CREATE TABLE IF NOT EXISTS payloads (
    seq INTEGER PRIMARY KEY,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS task_events (
    task_id TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    at REAL NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (task_id, event_id)
) WITHOUT ROWID
"""
_COLUMNS = "seq, id, status, attempts, enqueued_at, request_id, endpoint"
_HAS_WORK = (
    "SELECT EXISTS (SELECT 1 FROM tasks WHERE status = 'Enqueued')"
    " OR EXISTS (SELECT 1 FROM tasks WHERE status = 'Retrying'"
    "  AND (next_attempt_at <= ? OR enqueued_at <= ?))"
    " OR EXISTS (SELECT 1 FROM tasks WHERE status IN ('Running', 'Stopping')"
    "  AND lease_expires <= ?)"
)
_QUEUED = ("Enqueued", "Retrying")
# the Checkpointer copies the WAL back off the dispatch path; this is its safety net
_AUTOCHECKPOINT_PAGES = 8_000
_LOST = "worker lost: the invoker delivering the job stopped renewing its lease"


@dataclass(frozen=True)
class _Row:
    seq: int
    id: str
    status: str
    attempts: int
    enqueued_at: float
    request_id: str | None
    endpoint: str | None


@dataclass(frozen=True)
class Transition:
    """What a delivery thread must do next for one task.

    ``action`` is ``deliver`` (the task is claimed: post it as attempt ``attempt``
    with ``request_id``), ``success`` or ``failure`` (call that callback with
    ``result``), or ``none`` (the queue changed; look again at once).
    """

    task_id: str
    payload: str
    action: Literal["deliver", "success", "failure", "none"]
    attempt: int = 0
    request_id: str = ""
    result: InvocationResult | None = None


class TaskQueue:
    """The SQLite file ``path`` (created with its parent directory) holding tasks.

    Thread-safe: one connection per object, used under a lock.
    ``function_arn`` is written into every ``InvocationResult`` and ``AsyncTask``.
    """

    def __init__(self, path: Path, *, function_arn: str, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.function_arn = function_arn
        self._lock = threading.Lock()
        self._closed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise BackendError(f"cannot open the invoker queue {self.path}: {exc}") from exc
        try:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute(f"PRAGMA wal_autocheckpoint = {_AUTOCHECKPOINT_PAGES}")
            with self._write("create the schema") as db:
                for statement in _SCHEMA.split(";"):
                    db.execute(statement)
        except BackendError:
            self._db.close()
            raise
        except sqlite3.Error as exc:
            self._db.close()
            raise BackendError(f"cannot open the invoker queue {self.path}: {exc}") from exc
        self._checkpointer = Checkpointer(self.path, lock=self._lock)
        self._checkpointer.start()

    def __repr__(self) -> str:
        return f"TaskQueue({str(self.path)!r})"

    @contextmanager
    def _read(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise BackendError("the invoker queue is closed")
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise BackendError(f"invoker queue: {what} failed: {exc}") from exc

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, committed unless the block raises."""
        with self._read(what) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection; idempotent. Later calls raise ``BackendError``."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._checkpointer.stop()
                self._db.close()

    # -- producer ---------------------------------------------------------------------

    def enqueue(self, task_id: str, payload: str, now: float) -> bool:
        """Insert the task ``Enqueued`` unless its id exists; True if it was new."""
        return self.enqueue_many([(task_id, payload)], now)[0]

    def enqueue_many(self, tasks: Sequence[tuple[str, str]], now: float) -> list[bool]:
        """``enqueue`` of each ``(task_id, payload)`` in one transaction (one commit:
        most of an enqueue's cost); whether each was new, in order."""
        with self._write("enqueue") as db:
            return [_enqueue(db, task_id, payload, now) for task_id, payload in tasks]

    def stop(self, task_id: str, now: float) -> Literal["Stopped", "Stopping"] | None:
        """Queued → ``Stopped``; ``Running`` → ``Stopping``; anything else: None."""
        with self._write("stop") as db:
            row = db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()
            if row is None:
                return None
            if row[0] in _QUEUED:
                db.execute(
                    "UPDATE tasks SET status = 'Stopped', ended_at = ? WHERE id = ?",
                    (now, task_id),
                )
                _event(db, task_id, "Stopped", now, "stopped before delivery")
                return "Stopped"
            if row[0] == "Running":
                db.execute("UPDATE tasks SET status = 'Stopping' WHERE id = ?", (task_id,))
                _event(db, task_id, "Stopping", now, "stop requested while running")
                return "Stopping"
            return None

    # -- consumer ---------------------------------------------------------------------

    def next_transition(
        self, owner: str, endpoint: str, now: float, policy: Policy, *, probe: bool = True
    ) -> Transition | None:
        """Settle one lost or expired task, or claim the oldest due one; None if idle.

        A claim leases the task to ``owner`` until ``now + policy.lease_s``. With
        ``probe`` an idle queue costs one read and no write lock (for polling).
        """
        expired_before = now - policy.max_event_age_s
        if probe:
            with self._read("poll") as db:
                if not db.execute(_HAS_WORK, (now, expired_before, now)).fetchone()[0]:
                    return None
        with self._write("claim") as db:
            lost = _select(db, "status IN ('Running', 'Stopping') AND lease_expires <= ?", now)
            if lost is not None:
                attempt = Attempt(ok=False, error_type="UnhandledInvocationError", error=_LOST)
                return self._settle(db, lost, attempt, now, policy, lost=True)
            expired = _select(db, "status = 'Enqueued' AND enqueued_at <= ?", expired_before)
            expired = expired or _select(
                db, "status = 'Retrying' AND enqueued_at <= ?", expired_before
            )
            if expired is not None:
                return self._expire(db, expired, now)
            return self._claim(db, owner, endpoint, now, policy)

    def _claim(
        self, db: sqlite3.Connection, owner: str, endpoint: str, now: float, policy: Policy
    ) -> Transition | None:
        rows = [
            _select(db, "status = 'Enqueued'"),
            _select(db, "status = 'Retrying' AND next_attempt_at <= ?", now),
        ]
        due = [row for row in rows if row is not None]
        if not due:
            return None
        row = min(due, key=lambda r: (r.enqueued_at, r.seq))
        request_id = str(uuid.uuid4())
        db.execute(
            "UPDATE tasks SET status = 'Running', attempts = attempts + 1, lease_owner = ?,"
            " lease_expires = ?, request_id = ?, endpoint = ?,"
            " started_at = coalesce(started_at, ?) WHERE seq = ?",
            (owner, now + policy.lease_s, request_id, endpoint, now, row.seq),
        )
        attempt = row.attempts + 1
        _event(db, row.id, "Running", now, f"attempt {attempt} (request {request_id})")
        return Transition(row.id, _payload(db, row), "deliver", attempt, request_id)

    def _expire(self, db: sqlite3.Connection, row: _Row, now: float) -> Transition:
        db.execute(
            "UPDATE tasks SET status = 'Expired', ended_at = ?, error = ? WHERE seq = ?",
            (now, "expired in queue", row.seq),
        )
        _event(db, row.id, "Expired", now, "expired in queue")
        attempt = Attempt(ok=False, error_type="EventExpired", error="expired in queue")
        return Transition(
            row.id, _payload(db, row), "failure", result=self._result(row, "Expired", attempt, now)
        )

    def finish(
        self, task_id: str, owner: str, attempt: Attempt, now: float, policy: Policy
    ) -> Transition | None:
        """Record the outcome of ``owner``'s attempt; None if ``owner`` lost the lease."""
        with self._write("finish") as db:
            row = _select(
                db,
                "id = ? AND lease_owner = ? AND status IN ('Running', 'Stopping')",
                task_id,
                owner,
            )
            if row is None:
                return None
            return self._settle(db, row, attempt, now, policy, lost=False)

    def _settle(
        self,
        db: sqlite3.Connection,
        row: _Row,
        attempt: Attempt,
        now: float,
        policy: Policy,
        *,
        lost: bool,
    ) -> Transition:
        status: TaskStatus
        action: Literal["success", "failure", "none"]
        if attempt.ok:
            status, action = ("Stopped" if row.status == "Stopping" else "Succeeded"), "success"
        elif row.status == "Stopping":
            status, action = "Stopped", "failure"
        elif row.attempts <= policy.max_retries:
            status, action = "Retrying", "none"
        else:
            status, action = "Failed", "failure"
        # a lost lease already waited lease_s: no further backoff
        next_at = now if lost else now + policy.backoff(row.attempts)
        ended = None if status == "Retrying" else now
        db.execute(
            "UPDATE tasks SET status = ?, next_attempt_at = ?, ended_at = ?, lease_owner = NULL,"
            " lease_expires = NULL, error = ?, result = ? WHERE seq = ?",
            (status, next_at, ended, attempt.error, attempt.body, row.seq),
        )
        outcome = "succeeded" if attempt.ok else f"failed: {attempt.error}"
        detail = f"attempt {row.attempts} {outcome}"
        if status == "Retrying":
            detail += f"; retry {row.attempts} of {policy.max_retries} at {next_at:.3f}"
        _event(db, row.id, status, now, detail)
        result = None if action == "none" else self._result(row, status, attempt, now)
        payload = _payload(db, row)
        return Transition(row.id, payload, action, row.attempts, row.request_id or "", result)

    def _result(
        self, row: _Row, status: TaskStatus, attempt: Attempt, now: float
    ) -> InvocationResult:
        condition: Condition
        if status == "Expired":
            condition = "EventAgeExceeded"
        elif status == "Stopped":
            condition = "Stopped"
        else:
            condition = "Success" if attempt.ok else "RetriesExhausted"
        return InvocationResult(
            task_id=row.id,
            status=status,
            condition=condition,
            attempts=row.attempts,
            request_id=row.request_id,
            endpoint=row.endpoint,
            status_code=attempt.status_code,
            error_type=attempt.error_type,
            error_message=attempt.error,
            response_body=attempt.body,
            function_arn=self.function_arn,
            timestamp=now,
        )

    def renew(self, leases: Sequence[tuple[str, str]], until: float) -> None:
        """Extend each ``(task_id, owner)`` lease still held to ``until``."""
        if not leases:
            return
        with self._write("renew leases") as db:
            db.executemany(
                "UPDATE tasks SET lease_expires = ? WHERE id = ? AND lease_owner = ?"
                " AND status IN ('Running', 'Stopping')",
                [(until, task_id, owner) for task_id, owner in leases],
            )

    # -- reading ----------------------------------------------------------------------

    def get(self, task_id: str) -> AsyncTask | None:
        """The task as FC's GetAsyncTask shows it, or None for an unknown id."""
        with self._read("get task") as db:
            row = db.execute(
                "SELECT status, attempts, started_at, ended_at, request_id, endpoint, error,"
                " result, payload FROM tasks JOIN payloads USING (seq) WHERE id = ?",
                (task_id,),
            ).fetchone()
            if row is None:
                return None
            events = db.execute(
                "SELECT event_id, status, at, detail FROM task_events WHERE task_id = ?"
                " ORDER BY event_id",
                (task_id,),
            ).fetchall()
        status, attempts, started, ended, request_id, endpoint, error, result, payload = row
        return AsyncTask(
            task_id=task_id,
            request_id=request_id,
            status=status,
            already_retried_times=max(attempts - 1, 0),
            started_time=_ms(started),
            end_time=_ms(ended),
            duration_ms=None if started is None or ended is None else _ms(ended - started),
            events=[
                AsyncTaskEvent(event_id=e[0], status=e[1], timestamp=_ms(e[2]), event_detail=e[3])
                for e in events
            ],
            function_arn=self.function_arn,
            instance_id=endpoint,
            task_error_message=error,
            return_payload=result,
            task_payload=payload,
        )

    def prune(self, ended_before: float) -> int:
        """Delete finished tasks (``Succeeded``, ``Failed``, ``Expired``, ``Stopped``) that
        ended before ``ended_before``, with their payloads and events; how many."""
        with self._write("prune") as db:
            rows = db.execute(
                "SELECT seq, id FROM tasks WHERE ended_at < ?"
                " AND status IN ('Succeeded', 'Failed', 'Expired', 'Stopped')",
                (ended_before,),
            ).fetchall()
            db.executemany("DELETE FROM payloads WHERE seq = ?", [(r[0],) for r in rows])
            db.executemany("DELETE FROM task_events WHERE task_id = ?", [(r[1],) for r in rows])
            db.executemany("DELETE FROM tasks WHERE seq = ?", [(r[0],) for r in rows])
        return len(rows)

    def counts(self) -> dict[str, int]:
        """How many tasks are in each status."""
        with self._read("count tasks") as db:
            rows = db.execute("SELECT status, count(*) FROM tasks GROUP BY status").fetchall()
        return {status: n for status, n in rows}


def _select(db: sqlite3.Connection, where: str, *args: object) -> _Row | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM tasks WHERE {where} ORDER BY enqueued_at, seq LIMIT 1",  # noqa: S608
        args,
    ).fetchone()
    return None if row is None else _Row(*row)


def _payload(db: sqlite3.Connection, row: _Row) -> str:
    found = db.execute("SELECT payload FROM payloads WHERE seq = ?", (row.seq,)).fetchone()
    return str(found[0]) if found else ""


def _enqueue(db: sqlite3.Connection, task_id: str, payload: str, now: float) -> bool:
    cursor = db.execute(
        "INSERT INTO tasks (id, status, enqueued_at, next_attempt_at)"
        " VALUES (?, 'Enqueued', ?, ?) ON CONFLICT (id) DO NOTHING",
        (task_id, now, now),
    )
    if cursor.rowcount != 1:
        return False
    db.execute("INSERT INTO payloads (seq, payload) VALUES (?, ?)", (cursor.lastrowid, payload))
    _event(db, task_id, "Enqueued", now, "accepted")
    return True


def _event(db: sqlite3.Connection, task_id: str, status: str, at: float, detail: str) -> None:
    db.execute(
        "INSERT INTO task_events (task_id, event_id, status, at, detail) VALUES (?, (SELECT"
        " coalesce(max(event_id), 0) + 1 FROM task_events WHERE task_id = ?), ?, ?, ?)",
        (task_id, task_id, status, at, detail),
    )


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)
