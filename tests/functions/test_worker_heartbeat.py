"""The worker's heartbeat on a real SQLite store: the task's lease watched, cancels noticed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from scd_core.models import Event, Run
from scd_core.store import RunStore
from scd_core.stores import open_store

from functions.worker.heartbeat import Heartbeat, lease_key


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
