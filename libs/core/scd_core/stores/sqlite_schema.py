"""The SQLite run store's schema, its version, and the in-place migrations to it.

The version lives in the table ``schema_version`` (one row), which every release
since the first reads on open: an older release then refuses a file this one has
migrated, with a message naming both versions, instead of misreading it.

Contract of ``prepare``: called on every open, before any other statement. A
fresh file gets the current schema; a file of an older version is migrated to
the current one inside one ``BEGIN IMMEDIATE`` transaction, so the migration
runs exactly once even when several processes open the file at the same moment
(the others wait for the write lock, then find the current version), and a
failed migration leaves the file as it was. A file of a newer version is refused
with ``ConfigError``. Opening a current file takes no write lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from scd_core.errors import ConfigError

__all__ = ["SCHEMA_VERSION", "prepare"]

SCHEMA_VERSION = 3
"""1: the first release. 2: steps keyed by ``(run_id, task, step_id)``. 3: runs
numbered per app (``runs.number``, unique with ``app``)."""

_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    dedup_key TEXT NOT NULL UNIQUE,
    app TEXT NOT NULL,
    status TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    number INTEGER
);
CREATE UNIQUE INDEX runs_by_number ON runs (app, number);
CREATE INDEX runs_by_app ON runs (app, created_us, id);
CREATE INDEX runs_by_time ON runs (created_us, id);
CREATE INDEX runs_by_status ON runs (status, created_us, id);
CREATE TABLE steps (
    run_id TEXT NOT NULL,
    task TEXT NOT NULL,
    step_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, task, step_id)
) WITHOUT ROWID;
CREATE TABLE controls (
    run_id TEXT PRIMARY KEY,
    action TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE leases (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE claims (
    key TEXT PRIMARY KEY,
    claimed REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE apps (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    data TEXT NOT NULL
) WITHOUT ROWID;
"""


def _steps_by_task(db: sqlite3.Connection) -> None:
    """1 → 2: steps gain a task; every step recorded before is the ``default`` task's.

    The step's JSON is left as written: a ``StepState`` read without ``task`` has
    the default one, which is the column's value too.
    """
    db.execute(
        """CREATE TABLE steps_v2 (
            run_id TEXT NOT NULL,
            task TEXT NOT NULL,
            step_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, task, step_id)
        ) WITHOUT ROWID"""
    )
    db.execute(
        "INSERT INTO steps_v2 (run_id, task, step_id, idx, data)"
        " SELECT run_id, 'default', step_id, idx, data FROM steps"
    )
    db.execute("DROP TABLE steps")
    db.execute("ALTER TABLE steps_v2 RENAME TO steps")


def _run_numbers(db: sqlite3.Connection) -> None:
    """2 → 3: runs gain a number per app, given to the runs recorded before in
    creation order (time, then id, as ``list_runs`` orders them).

    The column is last and nullable because ``ALTER TABLE`` can add no other kind;
    every insert fills it. Numbers go through a keyed temporary table, not
    ``UPDATE ... FROM`` (SQLite 3.33) nor a correlated count (quadratic), so that
    the SQLite of FC's Debian 10 runtime (3.27) runs it in O(n log n).
    """
    db.execute("ALTER TABLE runs ADD COLUMN number INTEGER")
    db.execute("CREATE TEMP TABLE numbered (id TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID")
    db.execute(
        "INSERT INTO numbered (id, n) SELECT id,"
        " row_number() OVER (PARTITION BY app ORDER BY created_us, id) FROM runs"
    )
    db.execute("UPDATE runs SET number = (SELECT n FROM numbered WHERE numbered.id = runs.id)")
    db.execute("DROP TABLE numbered")
    db.execute("CREATE UNIQUE INDEX runs_by_number ON runs (app, number)")


_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _steps_by_task,
    2: _run_numbers,
}
"""From version N to N + 1, for every N below ``SCHEMA_VERSION``."""


def prepare(db: sqlite3.Connection, path: Path) -> int | None:
    """Bring the file open on ``db`` (autocommit mode) to ``SCHEMA_VERSION``.

    Returns the version it was migrated from, or None when nothing was migrated
    (a fresh file, or one already current). ``ConfigError`` for a newer file;
    ``sqlite3.Error`` propagates for the caller to translate.
    """
    if _version(db) == SCHEMA_VERSION:
        return None
    db.execute("BEGIN IMMEDIATE")
    try:
        found = _version(db)  # again, under the write lock: another opener may have won
        if found is None:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif found > SCHEMA_VERSION:
            raise ConfigError(
                f"run store {path} was written by a newer scd (schema version {found}); "
                f"this scd reads schema versions up to {SCHEMA_VERSION}: upgrade scd, "
                "or point SCD_STORE at another file"
            )
        elif found < SCHEMA_VERSION:
            for version in range(found, SCHEMA_VERSION):
                _MIGRATIONS[version](db)
            db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return None if found is None or found == SCHEMA_VERSION else found


def _version(db: sqlite3.Connection) -> int | None:
    """The file's schema version, or None for a file without one (a fresh file)."""
    try:
        row = db.execute("SELECT max(version) FROM schema_version").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return None if row[0] is None else int(row[0])
