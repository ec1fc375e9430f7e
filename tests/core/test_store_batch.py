"""create_runs: many create_run calls in one store write, with create_run's answers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from scd_core.errors import BackendError, BadRequest, Conflict
from scd_core.models import Event, Run
from scd_core.store import RunStore, create_runs
from scd_core.stores.memory import MemoryRunStore
from scd_core.stores.sqlite import SqliteRunStore

BASE = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunStore]:
    opened: RunStore = (
        MemoryRunStore() if request.param == "memory" else SqliteRunStore(tmp_path / "runs.db")
    )
    yield opened
    opened.close()


def make_run(n: int, key: int | None = None) -> Run:
    """Run ``n``; ``key`` picks another run's dedup key (equal runs compare equal)."""
    event = Event(provider="github", event_name="push", ref="refs/heads/main", payload={"n": n})
    dedup = f"web:github:{n if key is None else key}"
    return Run(id=f"run-{n}", app="web", dedup_key=dedup, event=event, created_at=BASE)


def test_create_runs_creates_each_new_run_in_order(store: RunStore) -> None:
    answers = create_runs(store, [make_run(1), make_run(2), make_run(3)])
    assert answers == [(make_run(n), True) for n in (1, 2, 3)]
    assert [store.get_run(f"run-{n}").event.payload for n in (1, 2, 3)] == [
        {"n": 1},
        {"n": 2},
        {"n": 3},
    ]


def test_create_runs_answers_a_known_dedup_key_with_the_first_run(store: RunStore) -> None:
    store.create_run(make_run(1))
    answers = create_runs(store, [make_run(2, key=1), make_run(3)])
    assert answers[0] == (make_run(1), False)
    assert answers[1] == (make_run(3), True)


def test_runs_sharing_a_dedup_key_in_one_batch_create_only_the_first(store: RunStore) -> None:
    answers = create_runs(store, [make_run(1, key=7), make_run(2, key=7)])
    assert answers == [(make_run(1, key=7), True), (make_run(1, key=7), False)]
    assert store.find_run("web:github:7") == make_run(1, key=7)


def test_a_conflicting_run_fails_alone_and_the_others_are_created(store: RunStore) -> None:
    store.create_run(make_run(1))
    clash = make_run(1, key=99)  # same id, another dedup key
    answers = create_runs(store, [make_run(2), clash, make_run(3)])
    assert answers[0] == (make_run(2), True)
    assert isinstance(answers[1], Conflict)
    assert answers[2] == (make_run(3), True)
    assert store.find_run("web:github:99") is None


def test_a_key_sqlite_cannot_store_is_a_bad_request_for_that_run_only(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "runs.db")
    try:
        bad = make_run(1, key=0).model_copy(update={"dedup_key": "web:\ud800"})
        answers = create_runs(store, [bad, make_run(2)])
        assert isinstance(answers[0], BadRequest)
        assert answers[1] == (make_run(2), True)
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
        assert store.find_run("web:github:1") is None
        assert create_runs(store, [make_run(1)]) == [(make_run(1), True)]
    finally:
        other.close()
        store.close()


def test_sqlite_create_runs_of_a_closed_store_raises_backend_error(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "runs.db")
    store.close()
    with pytest.raises(BackendError):
        store.create_runs([make_run(1)])


def test_a_batch_larger_than_one_statement_keeps_every_answer(store: RunStore) -> None:
    # SQLite inserts 500 rows a statement: keys repeat across those chunks here
    runs = [make_run(n) for n in range(1, 1201)]
    runs += [make_run(2000 + n, key=n) for n in (1, 600, 1200)]
    answers = create_runs(store, runs)
    assert answers[:1200] == [(make_run(n), True) for n in range(1, 1201)]
    assert answers[1200:] == [(make_run(n), False) for n in (1, 600, 1200)]
    assert store.find_run("web:github:600") == make_run(600)
