"""The RunStore contract, checked on every backend; then what only SQLite promises."""

from __future__ import annotations

import gc
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from scd_core.errors import BackendError, BadRequest, ConfigError, Conflict, NotFound
from scd_core.models import Event, Run, StepState
from scd_core.store import RunStore
from scd_core.stores import open_store
from scd_core.stores.memory import MemoryRunStore
from scd_core.stores.sqlite import SCHEMA_VERSION, SqliteRunStore

T = TypeVar("T")
BASE = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunStore]:
    opened: RunStore = (
        MemoryRunStore() if request.param == "memory" else SqliteRunStore(tmp_path / "runs.db")
    )
    yield opened
    opened.close()


def make_run(
    n: int | str,
    *,
    app: str = "web",
    status: str = "queued",
    created_at: datetime = BASE,
    payload: dict[str, Any] | None = None,
) -> Run:
    event = Event(
        provider="github",
        event_name="push",
        ref="refs/heads/main",
        branch="main",
        commit="a" * 40,
        delivery_id=f"delivery-{n}",
        payload=payload or {"n": n},
    )
    return Run.model_validate(
        {
            "id": f"run-{n}",
            "app": app,
            "dedup_key": f"github:delivery-{n}",
            "status": status,
            "event": event,
            "created_at": created_at,
        }
    )


def race(count: int, action: Callable[[int], T]) -> list[T]:
    """Run ``action(i)`` in ``count`` threads released together; return the results."""
    barrier = threading.Barrier(count)

    def go(i: int) -> T:
        barrier.wait()
        return action(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(go, range(count)))


# -- create, get, find ----------------------------------------------------------------


def test_store_backends_satisfy_the_protocol(store: RunStore) -> None:
    assert isinstance(store, RunStore)


def test_create_run_records_a_new_run_and_returns_it_created(store: RunStore) -> None:
    stored, created = store.create_run(make_run(1))
    assert created is True
    assert stored == make_run(1)
    assert store.get_run("run-1") == stored


def test_create_run_with_a_known_dedup_key_returns_the_first_run(store: RunStore) -> None:
    first, _ = store.create_run(make_run(1))
    retry = make_run(1).model_copy(update={"id": "run-other", "status": "running"})
    stored, created = store.create_run(retry)
    assert created is False
    assert stored == first
    with pytest.raises(NotFound):
        store.get_run("run-other")


def test_create_run_retried_identically_is_not_created_twice(store: RunStore) -> None:
    store.create_run(make_run(1))
    stored, created = store.create_run(make_run(1))
    assert (stored.id, created) == ("run-1", False)


def test_create_run_with_a_taken_id_and_a_new_dedup_key_is_a_conflict(store: RunStore) -> None:
    store.create_run(make_run(1))
    clash = make_run(1).model_copy(update={"dedup_key": "another"})
    with pytest.raises(Conflict):
        store.create_run(clash)
    assert store.find_run("another") is None


def test_get_run_of_an_unknown_id_raises_not_found(store: RunStore) -> None:
    with pytest.raises(NotFound, match="run-missing"):
        store.get_run("run-missing")


def test_find_run_returns_the_run_of_a_dedup_key_or_none(store: RunStore) -> None:
    store.create_run(make_run(1))
    found = store.find_run("github:delivery-1")
    assert found is not None
    assert found.id == "run-1"
    assert store.find_run("github:unknown") is None


def test_a_runs_event_round_trips_exactly(store: RunStore) -> None:
    payload = {
        "ref": "refs/heads/main",
        "nested": {"list": [1, 2.5, None, True, "ünïcødé ✓"], "empty": {}},
        "big": 2**62,
        "float": 0.1,
        "quote": 'a "quoted" \\ back\nslash',
    }
    run = make_run(1, payload=payload)
    run.event.added.extend(["src/a.py", "docs/b.md"])
    run.event.inputs["level"] = "debug"
    store.create_run(run)
    stored = store.get_run("run-1")
    assert stored.event == run.event
    assert stored.event.payload == payload
    assert stored.event.model_dump_json() == run.event.model_dump_json()


def test_datetimes_come_back_aware_in_utc(store: RunStore) -> None:
    naive = datetime(2026, 5, 6, 7, 8, 9, 10)
    shanghai = datetime(2026, 5, 6, 15, 8, 9, 10, tzinfo=timezone(timedelta(hours=8)))
    store.create_run(make_run(1, created_at=naive))
    store.create_run(make_run(2, created_at=shanghai))
    first, second = store.get_run("run-1"), store.get_run("run-2")
    assert first.created_at == naive.replace(tzinfo=timezone.utc)
    assert second.created_at == shanghai
    assert first.created_at.tzinfo is timezone.utc
    assert second.created_at.tzinfo is timezone.utc
    updated = store.update_run(second.model_copy(update={"started_at": shanghai}))
    assert updated.started_at is not None
    assert updated.started_at.tzinfo is timezone.utc
    reread = store.get_run("run-2").started_at
    assert reread is not None
    assert reread.tzinfo is timezone.utc
    assert reread == shanghai


def test_returned_runs_are_copies_that_do_not_change_the_store(store: RunStore) -> None:
    run = make_run(1, payload={"n": 1, "nested": {"n": 1}})
    stored, _ = store.create_run(run)
    for changed in (run, stored, store.get_run("run-1")):
        changed.event.payload["nested"]["n"] = "changed"
        changed.event.added.append("changed.txt")
    again = store.get_run("run-1")
    assert (again.event.payload, again.event.added) == ({"n": 1, "nested": {"n": 1}}, [])


# -- update ---------------------------------------------------------------------------------


def test_update_run_stores_the_change_with_the_next_version(store: RunStore) -> None:
    stored, _ = store.create_run(make_run(1))
    updated = store.update_run(stored.model_copy(update={"status": "running"}))
    assert (updated.status, updated.version) == ("running", 1)
    assert store.get_run("run-1") == updated
    again = store.update_run(updated.model_copy(update={"status": "success"}))
    assert again.version == 2
    assert store.get_run("run-1").status == "success"


def test_update_run_from_a_stale_version_is_a_conflict_and_changes_nothing(
    store: RunStore,
) -> None:
    stored, _ = store.create_run(make_run(1))
    store.update_run(stored.model_copy(update={"status": "running"}))
    with pytest.raises(Conflict):
        store.update_run(stored.model_copy(update={"status": "cancelled"}))
    assert store.get_run("run-1").status == "running"


def test_update_run_of_an_unknown_run_raises_not_found(store: RunStore) -> None:
    with pytest.raises(NotFound):
        store.update_run(make_run(9))


@pytest.mark.parametrize(
    "change",
    [{"app": "api"}, {"dedup_key": "other"}, {"created_at": BASE + timedelta(seconds=1)}],
)
def test_update_run_cannot_change_the_keys_of_a_run(
    store: RunStore, change: dict[str, Any]
) -> None:
    stored, _ = store.create_run(make_run(1))
    with pytest.raises(BadRequest):
        store.update_run(stored.model_copy(update=change))
    assert store.get_run("run-1") == stored


def test_update_run_status_is_seen_by_the_status_filter(store: RunStore) -> None:
    stored, _ = store.create_run(make_run(1))
    store.update_run(stored.model_copy(update={"status": "failure"}))
    assert [r.id for r in store.list_runs(status="failure")[0]] == ["run-1"]
    assert store.list_runs(status="queued")[0] == []


# -- listing ---------------------------------------------------------------------------


def _fill_120(store: RunStore) -> list[Run]:
    runs = []
    for i in range(120):
        # groups of three share a timestamp, so the id must break the tie
        created = BASE + timedelta(seconds=i // 3)
        app = ("web", "api", "docs")[i % 3]
        status = ("queued", "running", "success", "failure")[i % 4]
        run = make_run(f"{i:03d}", app=app, status=status, created_at=created)
        store.create_run(run)
        runs.append(run)
    return runs


def _pages(store: RunStore, limit: int, **filters: str) -> tuple[list[str], int]:
    ids: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = store.list_runs(limit=limit, cursor=cursor, **filters)
        pages += 1
        ids.extend(r.id for r in page)
        if cursor is None:
            return ids, pages
        assert len(page) == limit


@pytest.mark.parametrize(
    "filters",
    [{}, {"app": "api"}, {"status": "success"}, {"app": "web", "status": "failure"}],
)
def test_list_runs_pages_through_every_match_newest_first(
    store: RunStore, filters: dict[str, str]
) -> None:
    runs = _fill_120(store)
    expected = [
        r.id
        for r in sorted(runs, key=lambda r: (r.created_at, r.id), reverse=True)
        if all(getattr(r, field) == value for field, value in filters.items())
    ]
    ids, pages = _pages(store, 7, **filters)
    assert ids == expected
    assert pages == max(1, -(-len(expected) // 7))


def test_list_runs_ends_without_cursor_when_the_last_page_is_full(store: RunStore) -> None:
    for i in range(4):
        store.create_run(make_run(i, created_at=BASE + timedelta(seconds=i)))
    first, cursor = store.list_runs(limit=2)
    assert [r.id for r in first] == ["run-3", "run-2"]
    assert cursor is not None
    second, end = store.list_runs(limit=2, cursor=cursor)
    assert [r.id for r in second] == ["run-1", "run-0"]
    assert end is None


def test_list_runs_of_an_empty_store_is_an_empty_last_page(store: RunStore) -> None:
    assert store.list_runs() == ([], None)
    assert store.list_runs(app="nobody") == ([], None)


@pytest.mark.parametrize(
    "args",
    [
        {"limit": 0},
        {"limit": 1001},
        {"status": "done"},
        {"cursor": "%%%"},
        {"cursor": "bm9jb2xvbg"},
    ],
)
def test_list_runs_rejects_bad_arguments(store: RunStore, args: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        store.list_runs(**args)


def test_list_runs_filters_by_event_and_branch_across_pages(store: RunStore) -> None:
    expected = []
    for i in range(30):
        run = make_run(f"{i:02d}", created_at=BASE + timedelta(seconds=i))
        event = ("push", "tag", "manual")[i % 3]
        branch = ("main", "dev")[i % 2]
        run.event = run.event.model_copy(update={"event_name": event, "branch": branch})
        store.create_run(run)
        if event == "push" and branch == "dev":
            expected.append(run.id)
    ids, _ = _pages(store, 2, event="push", branch="dev")
    assert ids == expected[::-1]
    assert store.list_runs(event="schedule") == ([], None)
    assert len(store.list_runs(branch="main", limit=100)[0]) == 15


# -- apps and tokens --------------------------------------------------------------------


def test_put_app_stores_a_spec_that_comes_back_equal_and_tells_new_from_replaced(
    store: RunStore,
) -> None:
    spec = {"repo": "https://x/y.git", "provider": "github", "trigger": {"push": {"tags": []}}}
    assert store.put_app("web", spec) is True
    spec["provider"] = "gitee"
    assert store.get_app("web") == {**spec, "provider": "github"}  # a copy was stored
    assert store.put_app("web", spec) is False
    assert store.get_app("web") == spec
    assert store.put_app("api", {"repo": "r"}) is True
    assert [name for name, _ in store.list_apps()] == ["api", "web"]
    assert store.get_app("nobody") is None


def test_delete_app_removes_it_once_then_is_not_found(store: RunStore) -> None:
    store.put_app("web", {"repo": "r"})
    store.delete_app("web")
    assert store.get_app("web") is None
    assert store.list_apps() == []
    with pytest.raises(NotFound):
        store.delete_app("web")


def test_put_token_records_a_digest_found_by_its_digest(store: RunStore) -> None:
    record = store.put_token("ci", "ab" * 32, ["read", "trigger"], BASE)
    assert record.scopes == ("read", "trigger")
    found = store.find_token("ab" * 32)
    assert found == record
    assert found is not None
    assert found.created_at.tzinfo == timezone.utc
    assert not found.revoked
    assert store.find_token("cd" * 32) is None


def test_put_token_refuses_a_taken_name_or_digest(store: RunStore) -> None:
    store.put_token("ci", "ab" * 32, ["read"], BASE)
    with pytest.raises(Conflict):
        store.put_token("ci", "cd" * 32, ["read"], BASE)
    with pytest.raises(Conflict):
        store.put_token("other", "ab" * 32, ["read"], BASE)
    store.revoke_token("ci")
    with pytest.raises(Conflict):  # a revoked name is never reused
        store.put_token("ci", "ef" * 32, ["read"], BASE)


def test_revoke_token_marks_it_revoked_at_once_and_is_idempotent(store: RunStore) -> None:
    store.put_token("b", "ab" * 32, ["admin"], BASE)
    store.put_token("a", "cd" * 32, ["read"], BASE)
    store.revoke_token("b")
    store.revoke_token("b")
    found = store.find_token("ab" * 32)
    assert found is not None
    assert found.revoked
    assert [(t.name, t.revoked) for t in store.list_tokens()] == [("a", False), ("b", True)]
    with pytest.raises(NotFound):
        store.revoke_token("nobody")


# -- steps and control ------------------------------------------------------------------


def test_put_step_upserts_and_list_steps_orders_by_index(store: RunStore) -> None:
    store.create_run(make_run(1))
    store.put_step("run-1", StepState(id="test", index=1, status="running"))
    store.put_step("run-1", StepState(id="build", index=0, status="success", outputs={"a": "b"}))
    store.put_step("run-1", StepState(id="test", index=1, status="failure", message="exit 1"))
    steps = store.list_steps("run-1")
    assert [(s.id, s.status) for s in steps] == [("build", "success"), ("test", "failure")]
    assert steps[0].outputs == {"a": "b"}
    assert steps[1].message == "exit 1"


def test_steps_keep_their_times_in_utc_and_belong_to_their_run(store: RunStore) -> None:
    started = datetime(2026, 3, 4, 5, 6, 7)
    store.put_step("run-1", StepState(id="s", started_at=started))
    store.put_step("run-2", StepState(id="s", status="skipped"))
    (step,) = store.list_steps("run-1")
    assert step.started_at == started.replace(tzinfo=timezone.utc)
    assert step.started_at is not None
    assert step.started_at.tzinfo is timezone.utc
    assert [s.status for s in store.list_steps("run-2")] == ["skipped"]
    assert store.list_steps("run-unknown") == []


def test_control_requests_replace_each_other_until_cancel(store: RunStore) -> None:
    store.create_run(make_run(1))
    assert store.get_control("run-1") is None
    store.request_control("run-1", "pause")
    assert store.get_control("run-1") == "pause"
    store.request_control("run-1", "resume")
    assert store.get_control("run-1") == "resume"
    store.request_control("run-1", "cancel")
    store.request_control("run-1", "resume")
    assert store.get_control("run-1") == "cancel"


def test_request_control_checks_the_run_and_the_action(store: RunStore) -> None:
    store.create_run(make_run(1))
    with pytest.raises(NotFound):
        store.request_control("run-missing", "cancel")
    with pytest.raises(BadRequest):
        store.request_control("run-1", "explode")
    assert store.get_control("run-missing") is None
    assert store.get_control("run-1") is None


# -- leases and claims ------------------------------------------------------------------


def test_a_lease_is_exclusive_renewable_and_released_by_its_owner(store: RunStore) -> None:
    assert store.acquire_lease("run:1", "w1", 30)
    assert not store.acquire_lease("run:1", "w2", 30)
    assert store.acquire_lease("run:1", "w1", 30)
    assert store.renew_lease("run:1", "w1", 30)
    assert not store.renew_lease("run:1", "w2", 30)
    store.release_lease("run:1", "w2")
    assert not store.acquire_lease("run:1", "w2", 30)
    store.release_lease("run:1", "w1")
    assert store.acquire_lease("run:1", "w2", 30)
    assert not store.renew_lease("run:1", "w1", 30)


def test_an_expired_lease_can_be_taken_and_no_longer_renewed(store: RunStore) -> None:
    assert store.acquire_lease("run:1", "w1", 0.05)
    time.sleep(0.2)
    assert not store.renew_lease("run:1", "w1", 30)
    assert store.acquire_lease("run:1", "w2", 30)
    assert not store.renew_lease("run:1", "w1", 30)
    assert store.renew_lease("run:1", "w2", 30)


def test_renewing_an_unknown_lease_fails_and_leases_are_independent(store: RunStore) -> None:
    assert not store.renew_lease("nothing", "w1", 30)
    assert store.acquire_lease("a", "w1", 30)
    assert store.acquire_lease("b", "w2", 30)


def test_claim_once_is_true_for_the_first_caller_only(store: RunStore) -> None:
    assert store.claim_once("schedule:web:2026-01-01T00:00:00Z")
    assert not store.claim_once("schedule:web:2026-01-01T00:00:00Z")
    assert store.claim_once("schedule:web:2026-01-01T00:01:00Z")


def test_a_closed_store_refuses_calls(store: RunStore) -> None:
    store.close()
    store.close()
    with pytest.raises(BackendError):
        store.create_run(make_run(1))
    with pytest.raises(BackendError):
        store.claim_once("x")


# -- concurrent writers (threads) -------------------------------------------------------


def test_threads_racing_create_run_create_exactly_one(store: RunStore) -> None:
    def create(i: int) -> tuple[str, bool]:
        run = make_run(1).model_copy(update={"id": f"run-thread-{i}"})
        stored, created = store.create_run(run)
        return stored.id, created

    results = race(16, create)
    assert sum(created for _, created in results) == 1
    winner = next(run_id for run_id, created in results if created)
    assert {run_id for run_id, _ in results} == {winner}
    assert len(store.list_runs()[0]) == 1


def test_threads_racing_update_run_from_one_version_let_exactly_one_win(
    store: RunStore,
) -> None:
    base, _ = store.create_run(make_run(1))

    def update(i: int) -> bool:
        try:
            store.update_run(base.model_copy(update={"message": f"thread {i}"}))
        except Conflict:
            return False
        return True

    wins = race(16, update)
    assert wins.count(True) == 1
    stored = store.get_run("run-1")
    assert stored.version == 1
    assert stored.message == f"thread {wins.index(True)}"


def test_threads_racing_claims_and_leases_have_one_winner_each(store: RunStore) -> None:
    assert race(16, lambda i: store.claim_once("tick")).count(True) == 1
    assert race(16, lambda i: store.acquire_lease("lease", f"w{i}", 30)).count(True) == 1


# -- SQLite only --------------------------------------------------------------------------


def test_sqlite_store_keeps_everything_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "runs.db"
    first = SqliteRunStore(path)
    first.create_run(make_run(1))
    first.put_step("run-1", StepState(id="s"))
    first.request_control("run-1", "cancel")
    first.claim_once("tick")
    first.close()
    second = SqliteRunStore(path)
    assert second.get_run("run-1") == make_run(1)
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


# -- open_store -------------------------------------------------------------------------


def test_open_store_opens_memory_and_sqlite_urls(tmp_path: Path, monkeypatch: Any) -> None:
    memory = open_store("memory://")
    assert isinstance(memory, MemoryRunStore)
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db")
    assert isinstance(absolute, SqliteRunStore)
    assert absolute.path == tmp_path / "abs.db"
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///.scd/rel.db")
    assert isinstance(relative, SqliteRunStore)
    assert (tmp_path / ".scd" / "rel.db").exists()
    for opened in (memory, absolute, relative):
        opened.close()


@pytest.mark.parametrize(
    "url", ["redis://localhost", "postgres:///x", "runs.db", "sqlite://", "memory://x"]
)
def test_open_store_rejects_unknown_or_incomplete_urls(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url)
    assert "sqlite:///" in str(caught.value)


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


def test_strings_that_are_not_utf8_round_trip(store: RunStore) -> None:
    payload = json.loads('{"title": "half an emoji \\ud83d", "ok": "\\ud83d\\ude00"}')
    run = make_run(1, payload=payload)
    run.event.message = "\udcff"
    store.create_run(run)
    store.put_step("run-1", StepState(id="s", message="\ud800", outputs={"k": "\udfff"}))
    stored = store.get_run("run-1")
    assert stored.event == run.event
    (step,) = store.list_steps("run-1")
    assert (step.message, step.outputs) == ("\ud800", {"k": "\udfff"})
    updated = store.update_run(stored.model_copy(update={"message": "\ud801"}))
    assert store.get_run("run-1") == updated


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
