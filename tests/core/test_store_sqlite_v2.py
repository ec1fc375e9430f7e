"""A run store of schema version 2 (``data/sqlite-v2.sql``, written by that release, before
runs had numbers) is migrated to version 3: its runs are numbered per app in creation
order, and runs created afterwards continue each app's numbers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from factories import make_run
from scd_core.stores import sqlite_inserts, sqlite_schema
from scd_core.stores.sqlite import SCHEMA_VERSION, SqliteRunStore

DATA = Path(__file__).parent / "data"


def _v2_file(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.executescript((DATA / "sqlite-v2.sql").read_text(encoding="utf-8"))
    db.close()
    return path


def _numbers(store: SqliteRunStore) -> dict[str, tuple[str, int | None]]:
    runs, _ = store.list_runs(limit=100)
    return {run.id: (run.app, run.number) for run in runs}


def test_the_fixture_is_a_schema_2_file_whose_runs_have_no_number(tmp_path: Path) -> None:
    path = _v2_file(tmp_path / "scd.db")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        columns = [row[1] for row in db.execute("PRAGMA table_info(runs)")]
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (6,)
    db.close()
    assert "number" not in columns


def test_old_runs_are_numbered_per_app_in_creation_order_time_then_id(tmp_path: Path) -> None:
    store = SqliteRunStore(_v2_file(tmp_path / "scd.db"))
    try:
        assert store.migrated_from == 2
        # web: a (10 s), b and f (20 s, the id breaks the tie), c (30 s); api: d (5 s), e (20 s)
        assert _numbers(store) == {
            "run-a": ("web", 1),
            "run-b": ("web", 2),
            "run-f": ("web", 3),
            "run-c": ("web", 4),
            "run-d": ("api", 1),
            "run-e": ("api", 2),
        }
        assert store.get_run("run-f").number == 3
        assert store.find_run("web:github:run-c") == store.get_run("run-c")
    finally:
        store.close()


def test_runs_created_after_the_migration_continue_each_apps_numbers(tmp_path: Path) -> None:
    path = _v2_file(tmp_path / "scd.db")
    store = SqliteRunStore(path)
    try:
        created, _ = store.create_run(make_run("new-web"))
        [batch] = store.create_runs([make_run("new-api", app="api")])
        assert created.number == 5
        assert not isinstance(batch, Exception)
        assert batch[0].number == 3
        old = store.get_run("run-a")
        store.update_run(old.model_copy(update={"status": "success"}))
    finally:
        store.close()
    again = SqliteRunStore(path)  # numbers are stored, not derived on open
    try:
        assert again.migrated_from is None
        assert again.get_run("run-a").number == 1
        assert again.get_run("run-new-web").number == 5
    finally:
        again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    db.close()


def test_a_failed_numbering_leaves_the_schema_2_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _v2_file(tmp_path / "scd.db")

    def add_then_fail(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE runs ADD COLUMN number INTEGER")
        raise sqlite3.OperationalError("disk full (simulated)")

    monkeypatch.setitem(sqlite_schema._MIGRATIONS, 2, add_then_fail)
    with pytest.raises(Exception, match="simulated"):
        SqliteRunStore(path)
    monkeypatch.undo()
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(runs)")]
    db.close()
    assert "number" not in columns
    store = SqliteRunStore(path)
    try:
        assert store.get_run("run-c").number == 4
    finally:
        store.close()


def test_without_returning_as_on_sqlite_3_27_numbers_are_read_back_by_rowid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_inserts, "_RETURNING", False)
    store = SqliteRunStore(tmp_path / "scd.db")
    try:
        numbers = [store.create_run(make_run(n))[0].number for n in (1, 2, 3)]
        again, created = store.create_run(make_run(4, key=2))
        assert (numbers, again.number, created) == ([1, 2, 3], 2, False)
    finally:
        store.close()
