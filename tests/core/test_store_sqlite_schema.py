"""The SQLite run store's schema version: a file of the first release (``data/sqlite-v1.sql``,
written by that release) is migrated in place once, losing nothing; a newer file is refused."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from factories import make_step
from scd_core.errors import BackendError, ConfigError
from scd_core.models import DEFAULT_TASK, Run, StepState
from scd_core.stores import sqlite_schema
from scd_core.stores.sqlite import SCHEMA_VERSION, SqliteRunStore

DATA = Path(__file__).parent / "data"
EXPECTED: dict[str, Any] = json.loads((DATA / "sqlite-v1.expected.json").read_text())


def _v1_file(path: Path) -> Path:
    """A run store file as the first release left it."""
    with sqlite3.connect(path) as db:
        db.executescript((DATA / "sqlite-v1.sql").read_text(encoding="utf-8"))
    db.close()
    return path


def _version_rows(path: Path) -> list[tuple[int]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT version FROM schema_version").fetchall()
    db.close()
    return rows


def test_the_fixture_is_a_schema_1_file_with_runs_and_steps(tmp_path: Path) -> None:
    path = _v1_file(tmp_path / "scd.db")
    assert _version_rows(path) == [(1,)]
    assert EXPECTED["schema_version"] == 1
    assert len(EXPECTED["runs"]) == 7
    assert sum(len(steps) for steps in EXPECTED["steps"].values()) == 24


def test_a_schema_1_file_is_migrated_and_every_run_and_step_reads_back_equal(
    tmp_path: Path,
) -> None:
    store = SqliteRunStore(_v1_file(tmp_path / "scd.db"))
    try:
        assert store.migrated_from == 1
        runs, cursor = store.list_runs(limit=100)
        assert cursor is None
        # the fixture's runs of each app were created in id order, two seconds apart
        numbered = [{**run, "number": int(run["id"][4:]) // 2 + 1} for run in EXPECTED["runs"]]
        assert runs == [Run.model_validate(run) for run in numbered]
        for expected in EXPECTED["runs"]:
            run = store.get_run(expected["id"])
            assert (run.status, run.version, run.tasks) == (
                expected["status"],
                expected["version"],
                [],
            )
            assert store.find_run(expected["dedup_key"]) == run
            old_steps = [StepState.model_validate(step) for step in EXPECTED["steps"][run.id]]
            assert store.list_steps(run.id) == old_steps
            assert store.list_steps(run.id, DEFAULT_TASK) == old_steps
            assert all(step.task == DEFAULT_TASK for step in old_steps)
            assert store.get_control(run.id) == EXPECTED["controls"][run.id]
        assert [list(app) for app in store.list_apps()] == EXPECTED["apps"]
        assert [json.loads(t.model_dump_json()) for t in store.list_tokens()] == EXPECTED["tokens"]
        assert not store.claim_once("schedule:web:2026-11-01T00:00:00Z")
    finally:
        store.close()
    assert _version_rows(tmp_path / "scd.db") == [(SCHEMA_VERSION,)]


def test_a_migrated_file_takes_steps_of_other_tasks_and_updates_of_old_runs(
    tmp_path: Path,
) -> None:
    path = _v1_file(tmp_path / "scd.db")
    store = SqliteRunStore(path)
    try:
        before = store.list_steps("run-3")
        store.put_step("run-3", make_step("test", index=1, task="lint", status="running"))
        assert store.list_steps("run-3", DEFAULT_TASK) == before
        assert [s.task for s in store.list_steps("run-3")].count("lint") == 1
        old = store.get_run("run-1")
        updated = store.update_run(old.model_copy(update={"status": "cancelled"}))
        assert updated.version == old.version + 1
        store.request_control("run-3", "cancel")
    finally:
        store.close()
    again = SqliteRunStore(path)
    try:
        assert again.migrated_from is None  # once only
        assert again.get_run("run-1").status == "cancelled"
        assert again.list_steps("run-3", DEFAULT_TASK) == before
    finally:
        again.close()
    assert _version_rows(path) == [(SCHEMA_VERSION,)]


_OPENER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from scd_core.stores.sqlite import SqliteRunStore

    path, go = Path(sys.argv[1]), Path(sys.argv[2])
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.001)
    store = SqliteRunStore(path)
    steps = sum(len(store.list_steps(r.id)) for r in store.list_runs(limit=100)[0])
    print(json.dumps({"migrated_from": store.migrated_from, "steps": steps}), flush=True)
    store.close()
    """
)


@pytest.mark.timeout(180)
def test_processes_opening_a_schema_1_file_together_migrate_it_once(tmp_path: Path) -> None:
    path, go = _v1_file(tmp_path / "scd.db"), tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER, str(path), str(go)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=150)
        assert proc.returncode == 0
        results.append(json.loads(out))
    assert sorted(r["migrated_from"] is not None for r in results) == [False, False, False, True]
    assert {r["migrated_from"] for r in results} == {None, 1}
    assert [r["steps"] for r in results] == [24] * 4  # every opener saw every step, once
    assert _version_rows(path) == [(SCHEMA_VERSION,)]


def test_a_failed_migration_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _v1_file(tmp_path / "scd.db")

    def half_then_fail(db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM steps")
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setitem(sqlite_schema._MIGRATIONS, 1, half_then_fail)
    with pytest.raises(BackendError, match="simulated"):
        SqliteRunStore(path)
    monkeypatch.undo()
    assert _version_rows(path) == [(1,)]
    store = SqliteRunStore(path)
    try:
        assert store.migrated_from == 1
        assert store.list_steps("run-2") == [
            StepState.model_validate(step) for step in EXPECTED["steps"]["run-2"]
        ]
    finally:
        store.close()


def test_a_file_of_a_newer_schema_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "scd.db"
    SqliteRunStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.close()
    with pytest.raises(ConfigError) as caught:
        SqliteRunStore(path)
    message = str(caught.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"up to {SCHEMA_VERSION}" in message
    assert "newer scd" in message
    assert _version_rows(path) == [(SCHEMA_VERSION + 1,)]  # untouched


def test_a_fresh_file_starts_at_the_current_schema(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "scd.db")
    try:
        assert store.migrated_from is None
    finally:
        store.close()
    assert _version_rows(tmp_path / "scd.db") == [(SCHEMA_VERSION,)]
    with sqlite3.connect(tmp_path / "scd.db") as db:
        keys = [row[1] for row in db.execute("PRAGMA table_info(steps)") if row[5]]
    db.close()
    assert keys == ["run_id", "task", "step_id"]
