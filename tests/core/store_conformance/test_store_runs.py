"""RunRecords, runs: create-if-absent, reads, conditional updates, values, racing writers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from factories import BASE, make_run
from racing import race
from scd_core.errors import BackendError, BadRequest, Conflict, NotFound
from scd_core.models import StepState
from scd_core.store import RunRecords, RunStore

ROLE = "runs"


def test_store_backends_satisfy_the_protocol(store: RunStore, backend: Any) -> None:
    assert isinstance(store, RunRecords)
    if backend.complete:
        assert isinstance(store, RunStore)


def test_create_run_records_a_new_run_and_returns_it_created(store: RunStore) -> None:
    stored, created = store.create_run(make_run(1))
    assert created is True
    assert stored == make_run(1, number=1)
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


def test_a_closed_store_refuses_calls(store: RunStore) -> None:
    store.close()
    store.close()
    with pytest.raises(BackendError):
        store.create_run(make_run(1))


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
