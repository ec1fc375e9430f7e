"""LocalInvoker: FC async invocation over real loopback HTTP, SQLite queue files, real processes."""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from scd_core.errors import BackendError, ConfigError
from scd_core.invoker import Invoker, dispatch_many
from scd_core.invokers import open_invoker
from scd_core.invokers.local import LocalInvoker
from scd_core.invokers.results import InvocationResult
from scd_core.models import Job

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def job_id(self) -> str:
        return self.headers["x-fc-async-task-id"]


class Worker:
    """A loopback HTTP server standing in for a worker function; records every request.

    ``answer(request)`` decides each reply; it may block (e.g. on ``release``).
    """

    def __init__(self, answer: Callable[[Request], Answer] | None = None) -> None:
        self.answer = answer or (lambda request: (200, {}, b"done"))
        self.requests: list[Request] = []
        self.release = threading.Event()
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        worker = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with worker._lock:
                    worker.requests.append(request)
                    worker.inflight += 1
                    worker.max_inflight = max(worker.max_inflight, worker.inflight)
                try:
                    status, headers, reply = worker.answer(request)
                finally:
                    with worker._lock:
                        worker.inflight -= 1
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the invoker hung up (timeout, killed process): nothing to answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def ids(self) -> list[str]:
        with self._lock:
            return [request.job_id for request in self.requests]

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Calls:
    """Records the invoker's callbacks."""

    def __init__(self, raise_in: str | None = None) -> None:
        self.raise_in = raise_in
        self.results: dict[str, list[tuple[str, InvocationResult]]] = {}
        self.stopped: list[str] = []
        self._lock = threading.Lock()

    def on_success(self, job: Job, result: InvocationResult) -> None:
        self._record("success", job, result)

    def on_failure(self, job: Job, result: InvocationResult) -> None:
        self._record("failure", job, result)

    def on_stop(self, job_id: str) -> None:
        with self._lock:
            self.stopped.append(job_id)

    def _record(self, kind: str, job: Job, result: InvocationResult) -> None:
        assert job.id == result.task_id
        with self._lock:
            self.results.setdefault(job.id, []).append((kind, result))
        if self.raise_in == kind:
            raise RuntimeError(f"callback for {job.id} broke")

    def one(self, job_id: str) -> tuple[str, InvocationResult]:
        wait_until(lambda: job_id in self.results)
        with self._lock:
            [only] = self.results[job_id]
        return only


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.005)


def make_job(n: int | str) -> Job:
    return Job(id=f"run-{n}", app="web", ref="refs/heads/main", commit="a" * 40)


@pytest.fixture
def workers() -> Iterator[Callable[..., Worker]]:
    made: list[Worker] = []

    def make(answer: Callable[[Request], Answer] | None = None) -> Worker:
        made.append(Worker(answer))
        return made[-1]

    yield make
    for worker in made:
        worker.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "queue" / "invoker.db"


@pytest.fixture
def invokers(db: Path) -> Iterator[Callable[..., LocalInvoker]]:
    made: list[LocalInvoker] = []

    def make(endpoints: list[str] | tuple[str, ...] = (), **options: object) -> LocalInvoker:
        options = {"poll_s": 0.02, "retry_backoff_s": 0.01, "lease_s": 2.0, **options}
        calls = options.pop("calls", None)
        if isinstance(calls, Calls):
            options.update(on_success=calls.on_success, on_failure=calls.on_failure)
            options["on_stop"] = calls.on_stop
        made.append(LocalInvoker(db, endpoints, **options))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for invoker in made:
        invoker.close(timeout_s=0.5)


def failing(request: Request) -> Answer:
    return 500, {}, b"worker crashed"


def blocking(worker: Callable[[], Worker]) -> Callable[[Request], Answer]:
    """An answer that holds each request until the worker's ``release`` is set."""

    def answer(request: Request) -> Answer:
        worker().release.wait(30)
        return 200, {}, b"released"

    return answer


# -- the contract ------------------------------------------------------------------------


def test_local_invoker_satisfies_the_protocol(invokers: Callable[..., LocalInvoker]) -> None:
    assert isinstance(invokers(), Invoker)


def test_delivery_posts_the_job_to_invoke_with_fc_headers(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(), Calls()
    invoker = invokers([worker.url], calls=calls, function_name="builder", memory_mb=1024)
    invoker.start()
    invoker.dispatch(make_job(1))
    kind, result = calls.one("run-1")
    [request] = worker.requests
    assert request.path == "/invoke"
    assert Job.model_validate_json(request.body) == make_job(1)
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-fc-async-task-id"] == "run-1"
    assert headers["x-fc-request-id"] == result.request_id
    assert headers["x-fc-function-name"] == "builder"
    assert headers["x-fc-function-memory"] == "1024"
    assert headers["x-fc-function-handler"]
    assert headers["x-fc-account-id"]
    assert headers["x-fc-region"] == "local"
    assert headers["x-fc-qualifier"] == "LATEST"
    assert headers["x-fc-invocation-type"] == "Async"
    assert headers["x-fc-control-path"] == "/invoke"
    assert not [name for name in headers if name.startswith("x-fc-access-key")]
    assert (kind, result.status, result.attempts, result.response_body) == (
        "success",
        "Succeeded",
        1,
        "done",
    )


def test_dispatch_returns_before_delivery_and_task_shows_fc_fields(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker = workers()
    worker.answer = blocking(lambda: worker)
    invoker = invokers([worker.url])
    invoker.start()
    invoker.dispatch(make_job(1))
    wait_until(lambda: len(worker.requests) == 1)
    running = invoker.task("run-1")
    assert running is not None
    assert running.status == "Running"
    worker.release.set()
    wait_until(lambda: getattr(invoker.task("run-1"), "status", None) == "Succeeded")
    task = invoker.task("run-1")
    assert task is not None
    fc = task.model_dump(by_alias=True)
    assert fc["taskId"] == "run-1"
    assert fc["alreadyRetriedTimes"] == 0
    assert fc["startedTime"] <= fc["endTime"]
    assert fc["returnPayload"] == "released"
    assert [event["status"] for event in fc["events"]] == ["Enqueued", "Running", "Succeeded"]
    assert invoker.task("run-unknown") is None


def test_dispatching_a_known_job_id_again_is_a_no_op(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(), Calls()
    invoker = invokers([worker.url], calls=calls)
    invoker.dispatch(make_job(1))
    invoker.dispatch(make_job(1))
    invoker.start()
    calls.one("run-1")
    invoker.dispatch(make_job(1))  # after it finished, too
    invoker.dispatch(make_job(2))
    calls.one("run-2")
    assert worker.ids() == ["run-1", "run-2"]


def test_jobs_are_delivered_in_dispatch_order(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(), Calls()
    invoker = invokers([worker.url], calls=calls)
    order = [7, 3, 9, 1, 4, 8, 2]
    for n in order:
        invoker.dispatch(make_job(n))
    invoker.start()
    calls.one("run-2")
    assert worker.ids() == [f"run-{n}" for n in order]


def test_two_endpoints_run_two_jobs_at_once_but_never_two_on_one_endpoint(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    together = threading.Barrier(2, timeout=10)

    def answer(request: Request) -> Answer:
        if request.job_id in ("run-0", "run-1"):
            together.wait()  # breaks (and fails the job) unless both run at the same time
        time.sleep(0.005)
        return 200, {}, b""

    first, second, calls = workers(answer), workers(answer), Calls()
    invoker = invokers([first.url, second.url], calls=calls)
    for n in range(8):
        invoker.dispatch(make_job(n))
    invoker.start()
    wait_until(lambda: len(calls.results) == 8)
    assert {kind for [(kind, _)] in calls.results.values()} == {"success"}
    assert first.max_inflight == 1
    assert second.max_inflight == 1
    assert sorted(first.ids() + second.ids()) == sorted(f"run-{n}" for n in range(8))


# -- function errors and retries ---------------------------------------------------------


def test_a_function_error_is_retried_then_succeeds(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(), Calls()
    worker.answer = lambda request: (
        failing(request) if len(worker.requests) == 1 else (200, {}, b"")
    )
    invoker = invokers([worker.url], calls=calls, max_retries=2)
    invoker.start()
    invoker.dispatch(make_job(1))
    kind, result = calls.one("run-1")
    assert (kind, result.status, result.attempts) == ("success", "Succeeded", 2)
    first, second = worker.requests
    assert first.job_id == second.job_id == "run-1"
    assert first.headers["x-fc-request-id"] != second.headers["x-fc-request-id"]
    task = invoker.task("run-1")
    assert task is not None
    assert task.already_retried_times == 1


def test_exhausted_retries_call_on_failure_with_the_attempts(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(failing), Calls()
    invoker = invokers([worker.url], calls=calls, max_retries=2)
    invoker.start()
    invoker.dispatch(make_job(1))
    kind, result = calls.one("run-1")
    assert (kind, result.status, result.condition, result.attempts) == (
        "failure",
        "Failed",
        "RetriesExhausted",
        3,
    )
    assert result.error_type == "UnhandledInvocationError"
    assert result.error_message is not None
    assert "HTTP 500" in result.error_message
    assert result.response_body == "worker crashed"
    assert worker.ids() == ["run-1"] * 3


def test_max_retries_zero_makes_one_attempt(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(failing), Calls()
    invoker = invokers([worker.url], calls=calls)
    invoker.dispatch(make_job(1))
    invoker.dispatch(make_job(2))
    invoker.start()
    calls.one("run-2")
    assert calls.one("run-1")[1].attempts == 1
    assert worker.ids() == ["run-1", "run-2"]


def test_x_fc_status_404_is_a_function_error(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(lambda request: (200, {"x-fc-status": "404"}, b"{}")), Calls()
    invoker = invokers([worker.url], calls=calls)
    invoker.start()
    invoker.dispatch(make_job(1))
    kind, result = calls.one("run-1")
    assert (kind, result.status_code, result.error_type) == (
        "failure",
        404,
        "HandledInvocationError",
    )


def test_x_fc_status_200_is_a_success(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(lambda request: (200, {"x-fc-status": "200"}, b"")), Calls()
    invoker = invokers([worker.url], calls=calls)
    invoker.start()
    invoker.dispatch(make_job(1))
    assert calls.one("run-1")[0] == "success"


def test_connection_refused_is_a_function_error(invokers: Callable[..., LocalInvoker]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        calls = Calls()
        invoker = invokers([f"http://127.0.0.1:{closed.getsockname()[1]}"], calls=calls)
        invoker.start()
        invoker.dispatch(make_job(1))
        kind, result = calls.one("run-1")
    assert (kind, result.status_code) == ("failure", None)
    assert result.error_message is not None
    assert "connection refused" in result.error_message


def test_no_answer_within_the_request_timeout_is_a_function_error(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(), Calls()
    worker.answer = blocking(lambda: worker)
    invoker = invokers([worker.url], calls=calls, request_timeout_s=0.2)
    invoker.start()
    invoker.dispatch(make_job(1))
    kind, result = calls.one("run-1")
    assert (kind, result.error_type) == ("failure", "UnhandledInvocationError")
    assert result.error_message is not None
    assert "no answer within 0.2 s" in result.error_message


# -- max event age -------------------------------------------------------------------------


def test_a_job_older_than_max_event_age_expires_and_is_never_delivered(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls, clock = workers(), Calls(), FakeClock()
    invoker = invokers([worker.url], calls=calls, clock=clock, max_event_age_s=60)
    invoker.dispatch(make_job(1))
    clock.now += 61
    invoker.dispatch(make_job(2))
    invoker.start()
    kind, result = calls.one("run-1")
    assert (kind, result.status, result.condition) == ("failure", "Expired", "EventAgeExceeded")
    assert (result.error_message, result.attempts) == ("expired in queue", 0)
    calls.one("run-2")
    assert worker.ids() == ["run-2"]


def test_a_job_waiting_to_retry_expires_too(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls, clock = workers(failing), Calls(), FakeClock()
    invoker = invokers(
        [worker.url],
        calls=calls,
        clock=clock,
        max_event_age_s=60,
        max_retries=3,
        retry_backoff_s=30,
    )
    invoker.start()
    invoker.dispatch(make_job(1))
    wait_until(lambda: getattr(invoker.task("run-1"), "status", None) == "Retrying")
    clock.now += 61
    kind, result = calls.one("run-1")
    assert (kind, result.error_message, result.attempts) == ("failure", "expired in queue", 1)
    assert worker.ids() == ["run-1"]


# -- stop ------------------------------------------------------------------------------------


def test_stopping_a_queued_job_means_it_is_never_delivered(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(), Calls()
    invoker = invokers([worker.url], calls=calls)
    invoker.dispatch(make_job(1))
    invoker.dispatch(make_job(2))
    invoker.stop("run-1")
    invoker.stop("run-1")  # already stopped: no-op
    invoker.stop("run-unknown")
    invoker.start()
    calls.one("run-2")
    assert worker.ids() == ["run-2"]
    assert calls.stopped == ["run-1"]
    assert "run-1" not in calls.results
    task = invoker.task("run-1")
    assert task is not None
    assert task.status == "Stopped"


def test_stopping_a_running_job_calls_on_stop_and_ends_it_stopped(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(), Calls()
    worker.answer = blocking(lambda: worker)
    invoker = invokers([worker.url], calls=calls, max_retries=3)
    invoker.start()
    invoker.dispatch(make_job(1))
    wait_until(lambda: len(worker.requests) == 1)
    invoker.stop("run-1")
    assert calls.stopped == ["run-1"]
    task = invoker.task("run-1")
    assert task is not None
    assert task.status == "Stopping"
    worker.release.set()  # the worker saw the cancel request and answered
    kind, result = calls.one("run-1")
    assert (kind, result.status, result.condition) == ("success", "Stopped", "Stopped")
    invoker.stop("run-1")  # finished: no-op
    assert calls.stopped == ["run-1"]


# -- durability --------------------------------------------------------------------------------


def test_a_restart_delivers_every_queued_job_exactly_once(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    def slow(request: Request) -> Answer:
        time.sleep(0.01)
        return 200, {}, b""

    worker, calls = workers(slow), Calls()
    first = invokers([worker.url], calls=calls)
    for n in range(30):
        first.dispatch(make_job(n))
    first.start()
    wait_until(lambda: len(worker.requests) >= 5)
    first.close(timeout_s=10)
    second = invokers([worker.url], calls=calls)
    assert second.counts()["Enqueued"] > 0
    second.start()
    wait_until(lambda: len(calls.results) == 30)
    assert Counter(worker.ids()) == Counter(f"run-{n}" for n in range(30))
    assert set(Counter(worker.ids()).values()) == {1}


def test_close_leaves_queued_jobs_queued_and_dispatch_then_fails(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker = workers()
    worker.answer = blocking(lambda: worker)
    invoker = invokers([worker.url])
    invoker.start()
    for n in range(3):
        invoker.dispatch(make_job(n))
    wait_until(lambda: len(worker.requests) == 1)
    invoker.close(timeout_s=0.2)  # the delivery in flight is cut, its lease left to expire
    with pytest.raises(BackendError):
        invoker.dispatch(make_job(9))
    reopened = invokers()
    statuses = {n: getattr(reopened.task(f"run-{n}"), "status", None) for n in range(3)}
    assert statuses == {0: "Running", 1: "Enqueued", 2: "Enqueued"}


SCRIPT_CLAIM = """
import sys, time
from pathlib import Path
from scd_core.invokers.local import LocalInvoker
invoker = LocalInvoker(Path(sys.argv[1]), [sys.argv[2]], lease_s=float(sys.argv[3]), poll_s=0.02)
invoker.start()
time.sleep(120)
"""


@pytest.mark.parametrize("max_retries", [1, 0])
def test_a_running_job_of_a_killed_process_is_settled_once_after_its_lease_expires(
    workers: Callable[..., Worker],
    invokers: Callable[..., LocalInvoker],
    db: Path,
    max_retries: int,
) -> None:
    hung, healthy, calls = workers(), workers(), Calls()
    hung.answer = blocking(lambda: hung)
    invokers().dispatch(make_job(1))
    other = subprocess.Popen([sys.executable, "-c", SCRIPT_CLAIM, str(db), hung.url, "0.3"])
    try:
        wait_until(lambda: len(hung.requests) == 1)
        survivor = invokers([healthy.url], calls=calls, max_retries=max_retries)
        survivor.start()
        time.sleep(1.0)  # three lease periods: the live process keeps renewing its lease
        assert healthy.requests == []
        assert calls.results == {}
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait()
    kind, result = calls.one("run-1")
    if max_retries:
        assert (kind, result.attempts) == ("success", 2)
        assert healthy.ids() == ["run-1"]
    else:
        assert (kind, result.status, result.attempts) == ("failure", "Failed", 1)
        assert result.error_message is not None
        assert "worker lost" in result.error_message
        assert healthy.requests == []
    assert hung.ids() == ["run-1"]


SCRIPT_DRAIN = """
import sys, time
from pathlib import Path
from scd_core.invokers.local import LocalInvoker
delivered = []
invoker = LocalInvoker(Path(sys.argv[1]), sys.argv[2:], poll_s=0.02,
                       on_success=lambda job, result: delivered.append(job.id))
print("ready", flush=True)
sys.stdin.readline()
invoker.start()
deadline = time.monotonic() + 60
while invoker.counts().get("Succeeded", 0) < 200 and time.monotonic() < deadline:
    time.sleep(0.02)
invoker.close()
print(len(delivered), flush=True)
"""


def test_two_invoker_processes_deliver_each_of_200_jobs_exactly_once(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker], db: Path
) -> None:
    def quick(request: Request) -> Answer:
        time.sleep(0.002)
        return 200, {}, b""

    first, second = workers(quick), workers(quick)
    producer = invokers()
    for n in range(200):
        producer.dispatch(make_job(n))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT_DRAIN, str(db), first.url, second.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "ready\n"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=90)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    delivered = Counter(first.ids() + second.ids())
    assert delivered == Counter(f"run-{n}" for n in range(200))
    per_process = [int(output) for output in outputs]
    assert sum(per_process) == 200
    assert min(per_process) > 0


# -- callbacks -----------------------------------------------------------------------------------


def test_callback_exceptions_are_logged_and_delivery_goes_on(
    workers: Callable[..., Worker],
    invokers: Callable[..., LocalInvoker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    worker, calls = workers(), Calls(raise_in="success")
    invoker = invokers([worker.url], calls=calls)

    def raised() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "on_success callback raised" in r.getMessage()]

    with caplog.at_level(logging.ERROR, logger="scd_core.invokers.local"):
        for n in range(3):
            invoker.dispatch(make_job(n))
        invoker.start()
        # each callback raises after recording its call: wait for the third log record
        wait_until(lambda: len(raised()) == 3)
    assert worker.ids() == ["run-0", "run-1", "run-2"]
    assert sorted(calls.results) == ["run-0", "run-1", "run-2"]


def test_destination_payload_has_fc_shape(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(failing), Calls()
    invoker = invokers([worker.url], calls=calls, function_name="builder")
    invoker.start()
    invoker.dispatch(make_job(1))
    _, result = calls.one("run-1")
    payload = result.destination_payload(make_job(1))
    assert payload["requestContext"] == {
        "requestId": worker.requests[0].headers["x-fc-request-id"],
        "functionArn": "acs:fc:local:0000000000000000:functions/builder",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    }
    assert json.loads(payload["requestPayload"])["id"] == "run-1"
    assert payload["responseContext"] == {
        "statusCode": 500,
        "functionError": "UnhandledInvocationError",
    }
    assert payload["responsePayload"] == "worker crashed"
    assert payload["timestamp"].endswith("Z")


# -- configuration ---------------------------------------------------------------------------------


def test_open_invoker_builds_a_started_local_invoker_from_a_url(
    workers: Callable[..., Worker], db: Path
) -> None:
    worker = workers()
    invoker = open_invoker(f"local:///{db}?endpoint={worker.url}&max_retries=2&lease_s=5")
    try:
        assert isinstance(invoker, LocalInvoker)
        invoker.dispatch(make_job(1))
        wait_until(lambda: getattr(invoker.task("run-1"), "status", None) == "Succeeded")
    finally:
        invoker.close()


@pytest.mark.parametrize(
    "url",
    [
        "local://",
        "local://q.db",
        "local:////tmp/q.db?colour=red",
        "local:////tmp/q.db?max_retries=x",
        "local:////tmp/q.db?lease_s=1&lease_s=2",
    ],
)
def test_open_invoker_rejects_bad_local_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        open_invoker(url)


@pytest.mark.parametrize("endpoint", ["ftp://host", "http://user:pw@host:1", "http://h:99999"])
def test_bad_endpoints_are_config_errors(db: Path, endpoint: str) -> None:
    with pytest.raises(ConfigError):
        LocalInvoker(db, [endpoint])


def test_start_after_close_raises_and_close_is_idempotent(
    invokers: Callable[..., LocalInvoker],
) -> None:
    invoker = invokers(["http://127.0.0.1:9"])
    invoker.close()
    invoker.close()
    with pytest.raises(BackendError):
        invoker.start()


def test_dispatched_jobs_survive_closing_and_reopening_the_file(db: Path) -> None:
    with LocalInvoker(db) as invoker:
        invoker.dispatch(make_job(1))
    with LocalInvoker(db) as reopened:
        task = reopened.task("run-1")
        assert task is not None
        assert task.status == "Enqueued"


def test_jobs_dispatched_together_are_delivered_once_each_in_order(
    workers: Callable[..., Worker], invokers: Callable[..., LocalInvoker]
) -> None:
    worker, calls = workers(), Calls()
    invoker = invokers([worker.url], calls=calls)
    invoker.dispatch(make_job(5))
    # one known id, one repeated within the batch: each is still delivered once
    invoker.dispatch_many([make_job(3), make_job(5), make_job(6), make_job(3)])
    invoker.start()
    calls.one("run-6")
    assert worker.ids() == ["run-5", "run-3", "run-6"]


def test_dispatch_many_of_a_closed_invoker_raises_and_enqueues_nothing(db: Path) -> None:
    invoker = LocalInvoker(db)
    invoker.close()
    with pytest.raises(BackendError):
        invoker.dispatch_many([make_job(1), make_job(2)])
    with LocalInvoker(db) as reopened:
        assert reopened.task("run-1") is None


def test_dispatch_many_helper_reports_each_failure_of_a_plain_dispatcher() -> None:
    class Picky:
        def __init__(self) -> None:
            self.jobs: list[str] = []

        def dispatch(self, job: Job) -> None:
            if job.id == "run-2":
                raise BackendError("no room for run-2")
            self.jobs.append(job.id)

        def stop(self, job_id: str) -> None:
            return None

        def close(self) -> None:
            return None

    picky = Picky()
    failures = dispatch_many(picky, [make_job(1), make_job(2), make_job(3)])
    assert [type(f).__name__ if f else None for f in failures] == [None, "BackendError", None]
    assert picky.jobs == ["run-1", "run-3"]
