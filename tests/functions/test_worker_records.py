"""The worker's record keeping on a real SQLite store: endings written once, leases watched."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from scd_core.models import Event, Run, Status, StepState
from scd_core.store import RunStore
from scd_core.stores import open_store

from functions.worker.heartbeat import Heartbeat, lease_key
from functions.worker.records import end_open_steps, end_run


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    yield opened
    opened.close()


def running_run(store: RunStore, run_id: str = "r1") -> Run:
    event = Event(provider="github", event_name="push")
    run, _ = store.create_run(Run(id=run_id, app="web", dedup_key=run_id, event=event))
    run.status = "running"
    return store.update_run(run)


def test_concurrent_endings_are_written_once_and_the_first_one_wins(store: RunStore) -> None:
    running_run(store)
    results: dict[str, object] = {}
    statuses: list[Status] = ["success", "failure", "cancelled", "error"] * 2

    def end(i: int) -> None:
        results[f"{i}"] = end_run(store, "r1", statuses[i], f"by {i}")

    threads = [threading.Thread(target=end, args=(i,)) for i in range(len(statuses))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [key for key, value in results.items() if value is not None]
    assert len(winners) == 1
    final = store.get_run("r1")
    assert final.status == statuses[int(winners[0])]
    assert final.message == f"by {winners[0]}"


def test_ending_a_final_run_changes_nothing(store: RunStore) -> None:
    running_run(store)
    assert end_run(store, "r1", "success") is not None
    assert end_run(store, "r1", "error", "late") is None
    assert store.get_run("r1").status == "success"


def test_open_steps_end_as_error_or_skipped_and_finished_ones_stay(store: RunStore) -> None:
    running_run(store)
    store.put_step("r1", StepState(id="done", index=0, status="success"))
    store.put_step("r1", StepState(id="busy", index=1, status="running"))
    store.put_step("r1", StepState(id="later", index=2, status="pending"))
    end_open_steps(store, "r1", "worker lost")
    steps = {step.id: step for step in store.list_steps("r1")}
    assert steps["done"].status == "success"
    assert (steps["busy"].status, steps["busy"].message) == ("error", "worker lost")
    assert steps["later"].status == "skipped"
    assert steps["busy"].finished_at is not None


def test_a_heartbeat_that_loses_its_lease_cancels_the_job(store: RunStore) -> None:
    running_run(store)
    assert store.acquire_lease(lease_key("r1"), "me", 0.3)
    cancel = threading.Event()
    heartbeat = Heartbeat(store, "r1", "me", 0.3, cancel, poll_s=0.05)
    store.release_lease(lease_key("r1"), "me")  # as if the reaper had taken it and let it go
    heartbeat.start()
    assert heartbeat.lost.wait(10)
    assert cancel.is_set()
    heartbeat.stop()


def test_a_heartbeat_turns_a_cancel_request_into_the_cancel_event(store: RunStore) -> None:
    running_run(store)
    assert store.acquire_lease(lease_key("r1"), "me", 30)
    cancel = threading.Event()
    heartbeat = Heartbeat(store, "r1", "me", 30, cancel, poll_s=0.05)
    heartbeat.start()
    try:
        store.request_control("r1", "cancel")
        assert cancel.wait(10)
        assert not heartbeat.lost.is_set()
    finally:
        heartbeat.stop()
    assert store.renew_lease(lease_key("r1"), "me", 30)  # still ours
