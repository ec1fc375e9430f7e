"""The loopback FC double's own rules: errors, timeouts, event age, stop, destinations."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator

import pytest
from fc_support import FakeFunction, fake_function
from scd_core.errors import BackendError
from scd_core.invokers.fc import FcInvoker, task_id
from scd_core.invokers.fcdouble import FcDouble
from scd_core.invokers.fcsign import Credentials, signed_headers
from scd_core.models import Event, Job

KEYS = {"LTAI-double": "double-secret"}
CREDS = Credentials("LTAI-double", "double-secret")


def make_job(n: int) -> Job:
    event = Event(provider="github", event_name="push", ref="refs/heads/main", payload={"n": n})
    return Job(id=f"run-{n}", app="web", event=event, commit="b" * 40)


def client(double: FcDouble, function: str = "scd-worker") -> FcInvoker:
    return FcInvoker("1", "cn-hangzhou", function, endpoint=double.url, credentials=lambda: CREDS)


@pytest.fixture
def worker() -> Iterator[FakeFunction]:
    with fake_function() as function:
        yield function


@pytest.fixture
def handler() -> Iterator[FakeFunction]:
    with fake_function() as function:
        yield function


def test_a_function_error_fails_the_task_and_calls_the_failure_handler(
    worker: FakeFunction, handler: FakeFunction
) -> None:
    worker.status = 500
    with FcDouble(KEYS, worker_url=worker.url, failure_url=handler.url) as double:
        job = make_job(1)
        with client(double) as fc:
            fc.dispatch(job)
        assert double.wait(task_id(job.id)) == "Failed"
        deadline = time.monotonic() + 30
        while not handler.calls and time.monotonic() < deadline:
            time.sleep(0.05)
        (call,) = handler.calls
        assert call.path == "/invoke"
        assert call.headers["x-fc-control-path"] == "/invoke"
        record = json.loads(call.body)
        assert set(record) == {
            "timestamp", "requestContext", "requestPayload", "responseContext", "responsePayload"
        }  # fmt: skip
        context = record["requestContext"]
        assert context["condition"] == "RetriesExhausted"
        assert context["functionArn"] == double.arn
        assert context["approximateInvokeCount"] == 1
        assert Job.model_validate_json(record["requestPayload"]).id == job.id
        assert record["responseContext"] == {
            "statusCode": 500,
            "functionError": "UnhandledInvocationError",
        }
        _wait_for(lambda: (double.task(task_id(job.id)) or {}).get("destinationStatus"))
        view = double.task(task_id(job.id))
        assert view is not None
        assert view["destinationStatus"] == "Succeeded"
        assert [e["status"] for e in view["events"]] == ["Enqueued", "Running", "Failed"]


def test_x_fc_status_404_is_a_handled_function_error(
    worker: FakeFunction, handler: FakeFunction
) -> None:
    worker.headers["x-fc-status"] = "404"
    with FcDouble(KEYS, worker_url=worker.url, failure_url=handler.url) as double:
        with client(double) as fc:
            fc.dispatch(make_job(2))
        assert double.wait(task_id("run-2")) == "Failed"
        _wait_for(lambda: double.destinations)
        (record,) = double.destinations
        assert record["responseContext"]["functionError"] == "HandledInvocationError"
        assert record["responseContext"]["statusCode"] == 404


def test_a_function_past_its_timeout_fails_with_the_reason(
    worker: FakeFunction, handler: FakeFunction
) -> None:
    worker.hold.clear()
    with FcDouble(KEYS, worker_url=worker.url, failure_url=handler.url, timeout_s=1) as double:
        with client(double) as fc:
            fc.dispatch(make_job(3))
        assert double.wait(task_id("run-3")) == "Failed"
        _wait_for(lambda: double.destinations)
        record = double.destinations[0]
        assert "timed out after 1 s" in json.loads(record["responsePayload"])["errorMessage"]
        view = double.task(task_id("run-3"))
        assert view is not None
        assert view["taskErrorMessage"] == "function timed out after 1 s"


def test_a_task_older_than_the_max_event_age_expires_unrun(
    worker: FakeFunction, handler: FakeFunction
) -> None:
    worker.hold.clear()  # one instance, busy: the second task waits in the queue
    with FcDouble(
        KEYS, worker_url=worker.url, failure_url=handler.url, instances=1, max_event_age_s=0.5
    ) as double:
        with client(double) as fc:
            fc.dispatch(make_job(4))
            assert worker.arrived.wait(30)
            fc.dispatch(make_job(5))
        time.sleep(0.8)
        worker.hold.set()
        assert double.wait(task_id("run-5")) == "Expired"
        assert double.wait(task_id("run-4")) == "Succeeded"
        _wait_for(lambda: double.destinations)
        (record,) = double.destinations
        assert record["requestContext"]["condition"] == "EventAgeExceeded"
        assert record["requestContext"]["approximateInvokeCount"] == 0
        assert [Job.model_validate_json(c.body).id for c in worker.calls] == ["run-4"]


def test_a_task_stopped_while_queued_never_runs(worker: FakeFunction) -> None:
    worker.hold.clear()
    with FcDouble(KEYS, worker_url=worker.url, instances=1) as double:
        with client(double) as fc:
            fc.dispatch(make_job(6))
            assert worker.arrived.wait(30)
            fc.dispatch(make_job(7))
            fc.stop("run-7")
        worker.hold.set()
        assert double.wait(task_id("run-6")) == "Succeeded"
        assert double.wait(task_id("run-7")) == "Stopped"
        time.sleep(0.3)
        assert [Job.model_validate_json(c.body).id for c in worker.calls] == ["run-6"]
        assert double.destinations == []


def test_the_api_refuses_unknown_functions_sync_calls_and_large_bodies() -> None:
    with FcDouble(KEYS) as double:
        with (
            pytest.raises(BackendError, match="404 FunctionNotFound"),
            client(double, "scd-other") as other,
        ):
            other.dispatch(make_job(8))
        host = double.url.split("//", 1)[1]
        path = "/2023-03-30/functions/scd-worker/invocations"
        for kind, body, task, expected in (
            ("Sync", b"{}", "", (400, "InvalidArgument")),
            ("Async", b"{}", "0193abc", (400, "InvalidArgument")),  # a digit first
            ("Async", b"{}", "x" * 129, (400, "InvalidArgument")),
            ("Async", b"x" * (128 * 1024 + 1), "", (413, "RequestEntityTooLarge")),
            ("Async", b"{}", "", (202, None)),
        ):
            extra = {"x-fc-invocation-type": kind, **({"x-fc-async-task-id": task} if task else {})}
            headers = signed_headers(
                "POST", host, path, {"qualifier": "LATEST"}, body,
                action="InvokeFunction", credentials=CREDS, headers=extra,
            )  # fmt: skip
            conn = http.client.HTTPConnection(host.split(":")[0], int(host.split(":")[1]))
            conn.request("POST", f"{path}?qualifier=LATEST", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            conn.close()
            code = json.loads(answer)["Code"] if answer else None
            assert (response.status, code) == expected
            if response.status == 202:
                generated = response.getheader("x-fc-async-task-id")
                assert generated
                assert double.task(generated) is not None


def _wait_for(condition: object, timeout_s: float = 30.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
