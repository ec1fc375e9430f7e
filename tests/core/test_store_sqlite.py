"""What only the SQLite run store promises: durability across opens, processes and threads
sharing one file, forks, the checkpoint thread, one-transaction batches."""

from __future__ import annotations

import gc
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from factories import make_run
from racing import race
from scd_core.errors import BackendError, BadRequest, ConfigError
from scd_core.models import StepState
from scd_core.store import create_runs
from scd_core.stores.sqlite import SCHEMA_VERSION, SqliteRunStore


def test_sqlite_store_keeps_everything_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "runs.db"
    first = SqliteRunStore(path)
    first.create_run(make_run(1))
    first.put_step("run-1", StepState(id="s"))
    first.request_control("run-1", "cancel")
    first.claim_once("tick")
    first.close()
    second = SqliteRunStore(path)
    assert second.get_run("run-1") == make_run(1, number=1)
    assert [s.id for s in second.list_steps("run-1")] == ["s"]
    assert second.get_control("run-1") == "cancel"
    assert not second.claim_once("tick")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    second.close()


def test_sqlite_store_refuses_a_file_of_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SqliteRunStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.close()
    with pytest.raises(ConfigError, match="schema version"):
        SqliteRunStore(path)


def test_sqlite_errors_become_backend_errors_with_the_cause_chained(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackendError) as caught:
        SqliteRunStore(path)
    assert isinstance(caught.value.__cause__, sqlite3.Error)


def test_sqlite_store_objects_in_threads_race_through_file_locks(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SqliteRunStore(path).close()
    stores = [SqliteRunStore(path) for _ in range(8)]
    try:
        results = race(8, lambda i: stores[i].create_run(make_run(1))[1])
        claims = race(8, lambda i: stores[i].claim_once("tick"))
    finally:
        for opened in stores:
            opened.close()
    assert results.count(True) == 1
    assert claims.count(True) == 1


@contextmanager
def _opened(path: Path) -> Iterator[SqliteRunStore]:
    opened = SqliteRunStore(path)
    try:
        yield opened
    finally:
        opened.close()


_RACER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from scd_core.errors import Conflict
    from scd_core.stores.sqlite import SqliteRunStore

    path, go, me = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    store = SqliteRunStore(path)
    base = store.get_run("run-shared")
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.002)
    run = base.model_copy(update={"id": "run-" + me, "dedup_key": "same-delivery"})
    stored, created = store.create_run(run)
    try:
        store.update_run(base.model_copy(update={"message": me}))
        won = True
    except Conflict:
        won = False
    result = {
        "me": me, "created": created, "stored": stored.id, "won": won,
        "claimed": store.claim_once("tick"), "lease": store.acquire_lease("lease", me, 60),
    }
    print(json.dumps(result), flush=True)
    """
)


@pytest.mark.timeout(120)
def test_sqlite_processes_racing_each_get_exactly_one_winner(tmp_path: Path) -> None:
    path, go = tmp_path / "runs.db", tmp_path / "go"
    with _opened(path) as store:
        store.create_run(make_run("shared"))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(path), str(go), f"p{i}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=100)
        assert proc.returncode == 0
        results.append(json.loads(out))
    assert sum(r["created"] for r in results) == 1
    assert len({r["stored"] for r in results}) == 1
    assert sum(r["won"] for r in results) == 1
    assert sum(r["claimed"] for r in results) == 1
    assert sum(r["lease"] for r in results) == 1
    with _opened(path) as store:
        shared = store.get_run("run-shared")
        assert shared.version == 1
        assert shared.message == next(r["me"] for r in results if r["won"])


def test_sqlite_store_checkpoints_in_a_thread_that_stops_on_close(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    store = SqliteRunStore(path, checkpoint_interval_s=0.01)
    empty_size = path.stat().st_size
    for i in range(20):
        store.create_run(make_run(i, payload={"blob": "x" * 8000}))
    deadline = time.monotonic() + 30
    while path.stat().st_size < empty_size + 20 * 8000 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert path.stat().st_size >= empty_size + 20 * 8000  # the WAL was copied back
    assert "scd-sqlite-checkpoint" in {t.name for t in threading.enumerate()}
    store.close()
    assert "scd-sqlite-checkpoint" not in {t.name for t in threading.enumerate()}


_FORKER = textwrap.dedent(
    """
    import os, sys, warnings
    from pathlib import Path
    from scd_core.models import Event, Run
    from scd_core.stores.sqlite import SqliteRunStore

    warnings.simplefilter("ignore")
    store = SqliteRunStore(Path(sys.argv[1]))
    event = Event(provider="github", event_name="push")
    store.create_run(Run(id="run-parent", app="web", dedup_key="parent", event=event))
    pid = os.fork()
    if pid == 0:
        store.create_run(Run(id="run-child", app="web", dedup_key="child", event=event))
        store.close()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print(os.waitstatus_to_exitcode(status), store.get_run("run-child").id)
    store.close()
    """
)


def test_a_sqlite_store_used_after_fork_works_in_both_processes(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    done = subprocess.run(
        [sys.executable, "-c", _FORKER, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.split() == ["0", "run-child"]


def test_a_sqlite_store_dropped_without_close_stops_its_thread(tmp_path: Path) -> None:
    before = sum(t.name == "scd-sqlite-checkpoint" for t in threading.enumerate())
    store = SqliteRunStore(tmp_path / "runs.db", checkpoint_interval_s=0.01)
    store.claim_once("x")
    del store
    gc.collect()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sum(t.name == "scd-sqlite-checkpoint" for t in threading.enumerate()) == before:
            break
        time.sleep(0.01)
    assert sum(t.name == "scd-sqlite-checkpoint" for t in threading.enumerate()) == before


def test_a_sqlite_store_without_checkpoint_thread_still_checkpoints(tmp_path: Path) -> None:
    before = sum(t.name == "scd-sqlite-checkpoint" for t in threading.enumerate())
    path = tmp_path / "runs.db"
    store = SqliteRunStore(path, checkpoint_interval_s=0)
    assert sum(t.name == "scd-sqlite-checkpoint" for t in threading.enumerate()) == before
    empty_size = path.stat().st_size
    for i in range(300):  # past SQLite's own threshold of 1000 WAL pages
        store.create_run(make_run(i, payload={"blob": "x" * 8000}))
    assert path.stat().st_size > empty_size
    store.close()


def test_a_key_sqlite_cannot_store_is_a_bad_request_for_that_run_only(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "runs.db")
    try:
        bad = make_run(1, key=0).model_copy(update={"dedup_key": "web:\ud800"})
        answers = create_runs(store, [bad, make_run(2)])
        assert isinstance(answers[0], BadRequest)
        assert answers[1] == (make_run(2, number=1), True)  # the refused run took no number
    finally:
        store.close()


def test_a_failed_batch_write_raises_backend_error_and_creates_nothing(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "runs.db", busy_timeout_s=0.05)
    other = sqlite3.connect(tmp_path / "runs.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        with pytest.raises(BackendError) as caught:
            create_runs(store, [make_run(1), make_run(2)])
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        other.execute("ROLLBACK")
        assert store.find_run("github:delivery-1") is None
        assert create_runs(store, [make_run(1)]) == [(make_run(1, number=1), True)]
    finally:
        other.close()
        store.close()


def test_sqlite_create_runs_of_a_closed_store_raises_backend_error(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "runs.db")
    store.close()
    with pytest.raises(BackendError):
        store.create_runs([make_run(1)])
