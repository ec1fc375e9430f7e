"""How the SQLite run store inserts runs: one at a time, or a batch in a few statements.

Contract: called on the store's connection inside its lock (a batch inside the
caller's transaction). A run that cannot be inserted comes back as the error to
raise for it, never raised here, so that one bad run does not fail a batch.

Run numbers: a new run takes its app's highest number plus one, read in the same
statement as the insert (one run) or in the batch's ``BEGIN IMMEDIATE``
transaction (a batch). SQLite holds its write lock for the whole statement or
transaction, so two processes never read the same highest number, and the
unique index on ``(app, number)`` would refuse a duplicate if they did.
"""

from __future__ import annotations

import json
import sqlite3
from functools import lru_cache

from scd_core.errors import BackendError, BadRequest, Conflict, ScdError
from scd_core.models import Run
from scd_core.stores.rows import dump_model, epoch_us

__all__ = ["BATCH_ROWS", "Inserted", "RunRow", "insert_run", "insert_runs", "run_row"]

# The WHERE clause also settles SQLite's parsing ambiguity of INSERT ... SELECT ... ON.
_INSERT_RUN = (
    "INSERT INTO runs (id, dedup_key, app, status, created_us, version, data, number)"
    " SELECT ?, ?, ?, ?, ?, ?, ?, coalesce(max(number), 0) + 1 FROM runs WHERE app = ?"
    " ON CONFLICT (dedup_key) DO NOTHING"
)
# One statement where SQLite has RETURNING (3.35); FC's Debian 10 runtime has 3.27, where
# the number is read back by rowid in a second statement.
_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
_INSERT_RUN_RETURNING = _INSERT_RUN + " RETURNING number"
RunRow = tuple[str, str, str, str, int, int, str]
Inserted = int | tuple[str, int] | ScdError
"""Per run: its new number when inserted, else the stored run's ``(JSON, number)``
for a known dedup key, or the error to raise for it."""


def run_row(run: Run) -> RunRow:
    """The ``runs`` row of a normalised run (without its number, which the insert gives)."""
    created = epoch_us(run.created_at)
    return (run.id, run.dedup_key, run.app, run.status, created, run.version, dump_model(run))


def insert_run(db: sqlite3.Connection, row: RunRow) -> Inserted:
    """Insert ``row`` with the next number of its app unless its dedup key exists."""
    try:
        if _RETURNING:
            # fetchall: the statement ends (and, in autocommit, commits) once read out
            returned = db.execute(_INSERT_RUN_RETURNING, (*row, row[2])).fetchall()
            if returned:
                return int(returned[0][0])
        else:
            cursor = db.execute(_INSERT_RUN, (*row, row[2]))
            if cursor.rowcount == 1:
                number = db.execute("SELECT number FROM runs WHERE rowid = ?", (cursor.lastrowid,))
                return int(number.fetchone()[0])
    except sqlite3.IntegrityError as exc:
        error: ScdError = Conflict(f"run id {row[0]!r} is taken by another dedup key")
        error.__cause__ = exc
        return error
    except UnicodeEncodeError as exc:  # a key SQLite cannot store as UTF-8
        error = BadRequest("run store create_run: a key is not valid Unicode")
        error.__cause__ = exc
        return error
    found = db.execute("SELECT data, number FROM runs WHERE dedup_key = ?", (row[1],)).fetchone()
    if found is None:  # pragma: no cover - runs are never deleted
        return BackendError("create_run: the conflicting run vanished")
    return str(found[0]), int(found[1])


def insert_runs(db: sqlite3.Connection, rows: list[RunRow]) -> list[Inserted]:
    """``insert_run`` of each row, in a few statements whatever the number of rows.

    Each statement releases the GIL and takes it back, and taking it back waits
    while the event loop's thread runs Python: statements per row made a burst of
    webhooks wait on that thread. So: one query finds the dedup keys already
    stored, one per app its highest number, one statement inserts the rest. Any
    other failure (an id taken, a key SQLite cannot store) undoes that statement
    only, and the rows go one by one.
    """
    if len(rows) == 1:
        return [insert_run(db, rows[0])]
    keys = [row[1] for row in rows]
    try:
        found = db.execute(_stored_keys(len(keys)), keys).fetchone()[0]
    except UnicodeEncodeError:
        return [insert_run(db, row) for row in rows]
    stored: dict[str, Inserted] = {
        key: (data, int(number)) for key, data, number in (json.loads(found) if found else [])
    }
    answers: list[Inserted] = []
    fresh: list[tuple[RunRow, int]] = []
    last: dict[str, int] = {}
    for row in rows:
        earlier = stored.get(row[1])
        if earlier is not None:
            answers.append(earlier)
            continue
        app = row[2]
        if app not in last:
            last[app] = _highest(db, app)
        last[app] += 1
        stored[row[1]] = (row[6], last[app])  # a later row with this key is its duplicate
        answers.append(last[app])
        fresh.append((row, last[app]))
    if fresh:
        values = [value for row, number in fresh for value in (*row, number)]
        try:
            db.execute(_insert_many(len(fresh)), values)
        except (sqlite3.IntegrityError, UnicodeEncodeError):
            return [insert_run(db, row) for row in rows]
    return answers


def _highest(db: sqlite3.Connection, app: str) -> int:
    """The highest number of ``app``'s runs, 0 for none (an index lookup)."""
    try:
        row = db.execute("SELECT coalesce(max(number), 0) FROM runs WHERE app = ?", (app,))
        return int(row.fetchone()[0])
    except UnicodeEncodeError:
        return 0  # the insert refuses this row, one by one, with the error to raise


BATCH_ROWS = 500  # 8 values a row, well under SQLite's 32,766 bound variables


# Only the count of "?" placeholders is formatted into these statements, never a value.
@lru_cache(maxsize=64)
def _stored_keys(count: int) -> str:
    marks = ", ".join("?" * count)
    return (
        "SELECT json_group_array(json_array(dedup_key, data, number)) FROM runs"  # noqa: S608
        f" WHERE dedup_key IN ({marks})"
    )


@lru_cache(maxsize=64)
def _insert_many(count: int) -> str:
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * count)
    columns = "id, dedup_key, app, status, created_us, version, data, number"
    return f"INSERT INTO runs ({columns}) VALUES {values}"  # noqa: S608
