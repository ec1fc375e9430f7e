"""The failure handler: FC's destination record ends the task FC gave up on, once.

Real SQLite store and file sink in a temp dir; the app through Starlette's
TestClient; the records in the shape the FC double (and FC) sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import make_job, make_run, make_step
from scd_core.errors import BadRequest
from scd_core.invokers.fc import job_id_of, task_id
from scd_core.lifecycle import Lifecycle
from scd_core.models import Job
from scd_core.settings import Settings
from scd_core.sinks import open_sink
from scd_core.store import RunStore
from scd_core.stores import open_store

from functions.failure_handler.app import create_app
from functions.failure_handler.destination import parse
from functions.failure_handler.handler import Handler
from functions.trigger.testing import asgi_client


def record(job: Job | None, message: str, *, condition: str = "RetriesExhausted") -> bytes:
    """FC's destination record for ``job``'s invocation (reference/FC.md section 2.4)."""
    return json.dumps(
        {
            "timestamp": "2026-12-06T05:00:00Z",
            "requestContext": {
                "requestId": "req-1",
                "functionArn": "acs:fc:cn-hangzhou:1234567890123456:functions/scd-worker",
                "condition": condition,
                "approximateInvokeCount": 1,
            },
            "requestPayload": "" if job is None else job.model_dump_json(),
            "responseContext": {"statusCode": None, "functionError": "UnhandledInvocationError"},
            "responsePayload": json.dumps({"errorMessage": message}),
        }
    ).encode()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    yield opened
    opened.close()


def running(store: RunStore, n: int = 1) -> Job:
    """Run ``run-<n>`` claimed by a worker, its first step running; its job."""
    run = make_run(n)
    store.create_run(run)
    job = make_job(run, attempt=2)
    claim = Lifecycle(store).claim(job.run, job.task, owner="worker-1", ttl_s=30.0, attempt=2)
    assert claim.run is not None
    store.put_step(run.id, make_step("build", status="running"))
    return job


def test_a_timeout_reads_as_the_worker_timing_out() -> None:
    failure = parse(record(make_job(), "function timed out after 86400 s"))
    assert (failure.run_id, failure.task) == ("run-1", "default")
    assert failure.reason == "worker timed out after 86400 s"


def test_a_cut_connection_reads_as_the_instance_crashing() -> None:
    failure = parse(record(make_job(), "instance crashed: RemoteDisconnected"))
    assert failure.reason == "instance crashed: RemoteDisconnected"
    failure = parse(record(make_job(), "Process exited unexpectedly with status 137"))
    assert failure.reason == "instance crashed: Process exited unexpectedly with status 137"


def test_an_expired_event_says_it_waited_too_long() -> None:
    failure = parse(record(make_job(), "the event expired", condition="EventAgeExceeded"))
    assert "maximum event age" in failure.reason


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "JSON object"),
        (json.dumps({"requestContext": "x"}).encode(), "requestContext"),
        (json.dumps({"requestPayload": "{}"}).encode(), "names no scd job"),
    ],
)
def test_a_body_that_is_no_record_of_a_job_is_refused(body: bytes, says: str) -> None:
    with pytest.raises(BadRequest, match=says):
        parse(body)


def test_a_task_id_maps_back_to_its_job_when_the_payload_is_unreadable() -> None:
    assert job_id_of(task_id("0123abcd")) == "0123abcd"
    assert job_id_of(task_id("x" * 200)) is None  # hashed: not reversible
    body = json.loads(record(None, "instance crashed"))
    body["requestContext"]["asyncTaskId"] = task_id("run-7")
    failure = parse(json.dumps(body).encode())
    assert (failure.run_id, failure.task) == ("run-7", None)


def test_the_task_ends_error_with_the_reason_and_its_step_too(
    store: RunStore, tmp_path: Path
) -> None:
    job = running(store)
    handled = Handler(store, open_sink(f"file:///{tmp_path / 'logs'}")).handle(
        parse(record(job, "function timed out after 86400 s"))
    )
    assert handled.ended
    run = store.get_run(job.run)
    assert run.status == "error"
    assert run.message == "worker timed out after 86400 s"
    assert [(t.id, t.status) for t in run.tasks] == [("default", "error")]
    [step] = store.list_steps(job.run)
    assert (step.status, step.message) == ("error", "worker timed out after 86400 s")


def test_a_second_delivery_changes_nothing(store: RunStore) -> None:
    job = running(store)
    handler = Handler(store)
    body = record(job, "instance crashed: boom")
    assert handler.handle(parse(body)).ended
    first = store.get_run(job.run)
    again = handler.handle(parse(body))
    assert not again.ended
    assert again.left == "the run is already error"
    assert store.get_run(job.run).version == first.version


def test_a_run_already_final_is_left_untouched(store: RunStore) -> None:
    job = running(store)
    Lifecycle(store).end_task(job.run, job.task, "success")
    before = store.get_run(job.run)
    handled = Handler(store).handle(parse(record(job, "instance crashed: late")))
    assert not handled.ended
    after = store.get_run(job.run)
    assert (after.status, after.version, after.message) == ("success", before.version, None)


def test_a_later_attempt_of_the_task_is_left_running(store: RunStore) -> None:
    job = running(store)
    stale = job.model_copy(update={"attempt": 1})
    run = store.get_run(job.run)
    assert run.tasks[0].attempt > stale.attempt
    handled = Handler(store).handle(parse(record(stale, "instance crashed")))
    assert handled.left is not None
    assert "attempt" in handled.left
    assert store.get_run(job.run).status == "running"


def test_a_job_expired_in_the_queue_ends_its_queued_run(store: RunStore) -> None:
    run = make_run(3)
    store.create_run(run)
    Handler(store).handle(parse(record(make_job(run), "expired", condition="EventAgeExceeded")))
    ended = store.get_run(run.id)
    assert ended.status == "error"
    assert ended.message is not None
    assert "maximum event age" in ended.message


def app_client(store: RunStore, tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path, log_sink=f"file:///{tmp_path / 'logs'}")
    return asgi_client(create_app(settings, store=store))


def test_the_function_answers_fc_and_is_idempotent(store: RunStore, tmp_path: Path) -> None:
    job = running(store)
    with app_client(store, tmp_path) as client:
        assert client.post("/initialize").status_code == 200
        first = client.post("/invoke", content=record(job, "instance crashed: x"))
        second = client.post("/invoke", content=record(job, "instance crashed: x"))
    assert first.status_code == second.status_code == 200
    assert first.json() == {"run_id": "run-1", "task": "default", "ended": True, "left": None}
    assert second.json()["ended"] is False
    assert store.get_run(job.run).status == "error"


def test_the_function_refuses_bad_bodies_as_fc_function_errors(
    store: RunStore, tmp_path: Path
) -> None:
    answers: list[Any] = []
    with app_client(store, tmp_path) as client:
        answers.append(client.post("/invoke", content=b"{"))
        answers.append(client.post("/invoke", content=record(make_job(make_run(9)), "crash")))
    assert [a.status_code for a in answers] == [400, 404]
    assert all(a.headers["x-fc-status"] == "404" for a in answers)
    assert "not JSON" in answers[0].json()["error"]
    assert "Traceback" not in answers[1].text
