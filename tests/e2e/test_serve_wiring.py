"""The invoker destinations and the reaper of ``scd serve``, on a SQLite store and a file sink."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from scd_core.invokers.results import InvocationResult
from scd_core.models import Event, Job, Run, StepState
from scd_core.sinks.file import FileLogSink
from scd_core.store import RunStore
from scd_core.stores import open_store

from functions.serve.wiring import Destinations, Reaper
from functions.worker.heartbeat import lease_key


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    yield opened
    opened.close()


@pytest.fixture
def sink(tmp_path: Path) -> FileLogSink:
    return FileLogSink(tmp_path / "logs")


def _run(store: RunStore, status: str) -> Job:
    run_id = uuid.uuid4().hex
    event = Event(provider="github", event_name="push", ref="refs/heads/main")
    run, _ = store.create_run(Run(id=run_id, app="web", dedup_key=run_id, event=event))
    if status != "queued":
        run.status = status  # type: ignore[assignment]
        store.update_run(run)
    return Job(id=run_id, app="web", ref=event.ref)


def _result(job: Job, error_type: str, message: str) -> InvocationResult:
    return InvocationResult(
        task_id=job.id,
        status="Failed",
        condition="RetriesExhausted",
        attempts=1,
        request_id="r",
        endpoint="http://127.0.0.1:1",
        status_code=None,
        error_type=error_type,
        error_message=message,
        response_body="",
        function_arn="acs:fc:local:0:functions/scd-worker",
        timestamp=time.time(),
    )


def test_a_failed_delivery_of_a_running_run_ends_it_error_worker_lost_with_its_steps(
    store: RunStore, sink: FileLogSink
) -> None:
    job = _run(store, "running")
    store.put_step(job.id, StepState(id="0", index=0, status="running"))
    sink.append(job.id, "0", b"2026-11-27T07:20:25.123456Z started\n")
    reason = "delivery to http://127.0.0.1:1 failed: connection closed before an answer"
    Destinations(store, sink).on_failure(job, _result(job, "UnhandledInvocationError", reason))
    run = store.get_run(job.id)
    assert run.status == "error"
    assert run.message == f"worker lost: {reason}"
    assert [s.status for s in store.list_steps(job.id)] == ["error"]
    assert sink.read(job.id, "0").data.endswith(b"started\n")
    assert sink.read(job.id, "0", offset=len(sink.read(job.id, "0").data)).closed


def test_an_expired_queued_job_ends_its_run_error_with_the_reason(
    store: RunStore, sink: FileLogSink
) -> None:
    job = _run(store, "queued")
    Destinations(store, sink).on_failure(job, _result(job, "EventExpired", "expired in queue"))
    run = store.get_run(job.id)
    assert (run.status, run.message) == ("error", "expired in queue")


def test_a_failure_reported_for_an_ended_run_changes_nothing(
    store: RunStore, sink: FileLogSink
) -> None:
    job = _run(store, "success")
    Destinations(store, sink).on_failure(job, _result(job, "HandledInvocationError", "HTTP 500"))
    assert store.get_run(job.id).status == "success"


def test_a_failure_for_an_unknown_run_is_logged_not_raised(
    store: RunStore, sink: FileLogSink
) -> None:
    job = Job(id=uuid.uuid4().hex, app="web")
    Destinations(store, sink).on_failure(job, _result(job, "HandledInvocationError", "HTTP 500"))


def test_stop_records_a_cancel_and_ends_a_queued_run_cancelled(
    store: RunStore, sink: FileLogSink
) -> None:
    queued, running = _run(store, "queued"), _run(store, "running")
    destinations = Destinations(store, sink)
    destinations.on_stop(queued.id)
    destinations.on_stop(running.id)
    assert store.get_run(queued.id).status == "cancelled"
    assert store.get_run(running.id).status == "running"  # its worker ends it
    assert store.get_control(queued.id) == store.get_control(running.id) == "cancel"


def test_the_reaper_ends_a_running_run_whose_lease_expired_and_spares_a_live_one(
    store: RunStore, sink: FileLogSink
) -> None:
    lost, alive = _run(store, "running"), _run(store, "running")
    assert store.acquire_lease(lease_key(lost.id), "dead-worker", 0.01)
    assert store.acquire_lease(lease_key(alive.id), "live-worker", 60)
    time.sleep(0.05)  # the dead worker's lease runs out
    reaper = Reaper(store, sink, interval_s=0.01)
    reaper.start()
    try:
        deadline = time.monotonic() + 10
        while store.get_run(lost.id).status == "running" and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        reaper.stop()
    assert (store.get_run(lost.id).status, store.get_run(lost.id).message) == (
        "error",
        "worker lost",
    )
    assert store.get_run(alive.id).status == "running"


def test_the_wiring_imports_no_http_router_module() -> None:
    code = (
        "import sys, functions.serve.wiring\n"
        "bad = [m for m in sys.modules if m.startswith('functions.trigger') or m == 'fastapi']\n"
        "print(','.join(sorted(bad)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
