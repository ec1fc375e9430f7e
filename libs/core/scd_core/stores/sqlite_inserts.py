"""How the SQLite run store inserts runs: one at a time, or a batch in a few statements.

Contract: called on the store's connection inside its lock (a batch inside the
caller's transaction). A run that cannot be inserted comes back as the error to
raise for it, never raised here, so that one bad run does not fail a batch.
"""

from __future__ import annotations

import json
import sqlite3
from functools import lru_cache

from scd_core.errors import BackendError, BadRequest, Conflict, ScdError
from scd_core.models import Run
from scd_core.stores.rows import dump_model, epoch_us

__all__ = ["BATCH_ROWS", "RunRow", "insert_run", "insert_runs", "run_row"]

_INSERT_RUN = (
    "INSERT INTO runs (id, dedup_key, app, status, created_us, version, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING"
)
RunRow = tuple[str, str, str, str, int, int, str]


def run_row(run: Run) -> RunRow:
    """The ``runs`` row of a normalised run."""
    created = epoch_us(run.created_at)
    return (run.id, run.dedup_key, run.app, run.status, created, run.version, dump_model(run))


def insert_run(db: sqlite3.Connection, row: RunRow) -> str | ScdError | None:
    """Insert ``row`` unless its dedup key exists: None when inserted, else the stored
    run's JSON; the statement's own failures come back as the error to raise."""
    try:
        if db.execute(_INSERT_RUN, row).rowcount == 1:
            return None
    except sqlite3.IntegrityError as exc:
        error: ScdError = Conflict(f"run id {row[0]!r} is taken by another dedup key")
        error.__cause__ = exc
        return error
    except UnicodeEncodeError as exc:  # a key SQLite cannot store as UTF-8
        error = BadRequest("run store create_run: a key is not valid Unicode")
        error.__cause__ = exc
        return error
    found = db.execute("SELECT data FROM runs WHERE dedup_key = ?", (row[1],)).fetchone()
    if found is None:  # pragma: no cover - runs are never deleted
        return BackendError("create_run: the conflicting run vanished")
    data: str = found[0]
    return data


def insert_runs(db: sqlite3.Connection, rows: list[RunRow]) -> list[str | ScdError | None]:
    """``insert_run`` of each row, in a few statements whatever the number of rows.

    Each statement releases the GIL and takes it back, and taking it back waits
    while the event loop's thread runs Python: statements per row made a burst of
    webhooks wait on that thread. So: one query finds the dedup keys already
    stored, one statement inserts the rest. Any other failure (an id taken, a key
    SQLite cannot store) undoes that statement only, and the rows go one by one.
    """
    if len(rows) == 1:
        return [insert_run(db, rows[0])]
    keys = [row[1] for row in rows]
    try:
        found = db.execute(_stored_keys(len(keys)), keys).fetchone()[0]
    except UnicodeEncodeError:
        return [insert_run(db, row) for row in rows]
    stored: dict[str, str] = dict(json.loads(found)) if found else {}
    answers: list[str | ScdError | None] = []
    fresh: list[RunRow] = []
    for row in rows:
        earlier = stored.get(row[1])
        answers.append(earlier)
        if earlier is None:
            stored[row[1]] = row[6]  # a later row with this key is its duplicate
            fresh.append(row)
    if fresh:
        try:
            db.execute(_insert_many(len(fresh)), [value for row in fresh for value in row])
        except (sqlite3.IntegrityError, UnicodeEncodeError):
            return [insert_run(db, row) for row in rows]
    return answers


BATCH_ROWS = 500  # 7 values a row, well under SQLite's 32,766 bound variables


# Only the count of "?" placeholders is formatted into these statements, never a value.
@lru_cache(maxsize=64)
def _stored_keys(count: int) -> str:
    marks = ", ".join("?" * count)
    return (
        "SELECT json_group_array(json_array(dedup_key, data)) FROM runs"  # noqa: S608
        f" WHERE dedup_key IN ({marks})"
    )


@lru_cache(maxsize=64)
def _insert_many(count: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * count)
    columns = "id, dedup_key, app, status, created_us, version, data"
    return f"INSERT INTO runs ({columns}) VALUES {values}"  # noqa: S608
