"""``FcDouble``: Function Compute 3.0's async invocation on loopback, for tests.

An HTTP server (Starlette on uvicorn, in a thread, on ``127.0.0.1``) speaking FC's
API as ``FcInvoker`` uses it, with FC's rules (reference/FC.md sections 1-2, 5):

- every request must carry a valid ACS3-HMAC-SHA256 signature from a key in
  ``keys`` (and its STS token when the key has one), signing at least ``host``,
  ``x-acs-date`` and ``x-acs-content-sha256``, the body matching that hash and the
  date within 15 minutes; otherwise 403 with FC's error JSON
  (``{"Code", "Message", "RequestId"}``: ``InvalidAccessKeyId.NotFound``,
  ``SignatureNotMatch``, ``InvalidSecurityToken``, ``RequestTimeTooSkewed``);
- ``POST /2023-03-30/functions/{fn}/invocations`` with ``x-fc-invocation-type:
  Async``: 202 with ``x-fc-request-id`` and ``x-fc-async-task-id``; a task id
  already used is 409 ``AsyncTaskAlreadyExist``, one breaking FC's naming rule
  (a letter or ``_`` first, ``[A-Za-z0-9_-]``, at most 128) is 400, a body over
  128 KB is 413;
- ``GET .../async-tasks/{id}``: the task in FC's shape and states (``Enqueued``,
  ``Running``, ``Succeeded``, ``Failed``, ``Stopped``, ``Expired``), 404
  ``AsyncTaskNotFound``; ``PUT .../async-tasks/{id}/stop``: a queued task never
  runs, a running one has its delivery cut; a finished one is 400;
- each task is delivered, by one of ``instances`` delivery threads, as FC
  delivers to a custom runtime: ``POST {worker_url}/invoke``, the payload as
  body, FC's ``x-fc-*`` headers (``x-fc-control-path: /invoke``, request id,
  function name, qualifier, ...). 200 without an ``x-fc-status`` other than 200 is
  success; anything else, no answer within ``timeout_s`` or a cut connection is a
  function error. No retries (s.yaml sets ``maxAsyncRetryAttempts: 0``);
- a task older than ``max_event_age_s`` when its turn comes is ``Expired``;
- a ``Failed`` or ``Expired`` task is sent to ``failure_url``'s ``POST /invoke``
  with FC's destination payload (``timestamp``, ``requestContext``,
  ``requestPayload``, ``responseContext``, ``responsePayload``).

``fail_next(*statuses)`` answers the next API requests with those statuses
(429, 500...) before doing anything, so clients' retries can be tested.
``requests`` counts API requests answered. Use as a context manager or
``start()``/``close()``; ``start`` returns the base URL. Thread-safe.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scd_core.invokers.fctasks import FINAL, Task, destination_record, task_view
from scd_core.invokers.fcverify import Refused, verify

__all__ = ["FcDouble"]

_MAX_PAYLOAD = 128 * 1024
_PREFIX = "/2023-03-30/functions/"
# FC: a letter or "_" first, then letters, digits, "_" and "-", at most 128
_TASK_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")


class FcDouble:
    """A loopback FC serving one async ``function`` (see the module doc)."""

    def __init__(
        self,
        keys: Mapping[str, str],
        *,
        function: str = "scd-worker",
        worker_url: str | None = None,
        failure_url: str | None = None,
        tokens: Mapping[str, str] | None = None,
        max_event_age_s: float = 3600.0,
        timeout_s: float = 86400.0,
        instances: int = 2,
        account_id: str = "1234567890123456",
        region: str = "cn-hangzhou",
    ) -> None:
        self._keys = dict(keys)
        self._tokens = dict(tokens or {})
        self.function = function
        self.worker_url = worker_url
        self.failure_url = failure_url
        self.max_event_age_s = max_event_age_s
        self.timeout_s = timeout_s
        self.account_id = account_id
        self.region = region
        self.arn = f"acs:fc:{region}:{account_id}:functions/{function}"
        self.requests = 0
        self.destinations: list[dict[str, Any]] = []
        self._instances = instances
        self._tasks: dict[str, Task] = {}
        self._queue: list[str] = []
        self._faults: list[int] = []
        self._cond = threading.Condition()
        self._closing = False
        self._threads: list[threading.Thread] = []
        self._server: Any = None
        self.url = ""

    # -- life --------------------------------------------------------------------------

    def __enter__(self) -> FcDouble:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self, start_timeout_s: float = 30.0) -> str:
        """Serve on a free loopback port and start delivering; the base URL."""
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_level="warning", access_log=False)
        self._server = server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        self._threads.append(thread)
        deadline = time.monotonic() + start_timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the FC double did not start")
            time.sleep(0.01)
        for index in range(self._instances):
            worker = threading.Thread(target=self._deliver_loop, name=f"fc-double-{index}")
            worker.daemon = True
            worker.start()
            self._threads.append(worker)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def close(self) -> None:
        """Stop serving and delivering (deliveries in flight are cut); idempotent."""
        with self._cond:
            self._closing = True
            running = [t.conn for t in self._tasks.values() if t.conn is not None]
            self._cond.notify_all()
        for conn in running:
            _cut(conn)
        if self._server is not None:
            self._server.should_exit = True
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()

    # -- test controls -----------------------------------------------------------------

    def fail_next(self, *statuses: int) -> None:
        """Answer the next ``len(statuses)`` API requests with these statuses."""
        with self._cond:
            self._faults.extend(statuses)

    def task(self, task_id: str) -> dict[str, Any] | None:
        """The task as GetAsyncTask shows it, or None."""
        with self._cond:
            task = self._tasks.get(task_id)
            return None if task is None else task_view(task, self.arn)

    def task_ids(self) -> list[str]:
        """The ids of every task received, in the order they came."""
        with self._cond:
            return list(self._tasks)

    def wait(self, task_id: str, statuses: tuple[str, ...] = FINAL, timeout_s: float = 60.0) -> str:
        """Block until the task reaches one of ``statuses``; its status (``TimeoutError``)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                task = self._tasks.get(task_id)
                if task is not None and task.state in statuses:
                    return task.state
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"task {task_id} not in {statuses} within {timeout_s} s")
                self._cond.wait(min(left, 0.1))

    # -- the API -----------------------------------------------------------------------

    def _app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        async def api(request: Request) -> Response:
            body = await request.body()
            request_id = uuid.uuid4().hex
            status, payload, headers = self._handle(request, body, request_id)
            headers = {"x-fc-request-id": request_id, **headers}
            if payload is None:
                return Response(status_code=status, headers=headers)
            return JSONResponse(payload, status_code=status, headers=headers)

        methods = ["GET", "POST", "PUT", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", api, methods=methods)])

    def _handle(
        self, request: Any, body: bytes, request_id: str
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        with self._cond:
            self.requests += 1
            fault = self._faults.pop(0) if self._faults else None
        if fault is not None:
            return _error(fault, "ServiceUnavailable" if fault >= 500 else "Throttled", "injected")
        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        query = dict(parse_qsl(request.url.query, keep_blank_values=True))
        try:
            verify(request.method, raw_path, query, request.headers, body, self._keys, self._tokens)
        except Refused as exc:
            return _error(403, exc.code, exc.message)
        path: str = request.url.path
        if not path.startswith(_PREFIX):
            return _error(404, "NotFound", f"no API at {path}")
        function, _, rest = path[len(_PREFIX) :].partition("/")
        if function != self.function:
            return _error(404, "FunctionNotFound", f"function '{function}' does not exist")
        method = request.method
        if method == "POST" and rest == "invocations":
            return self._invoke(request.headers, body, request_id)
        parts = rest.split("/")
        if parts[0] == "async-tasks" and len(parts) == 2 and method == "GET":
            view = self.task(parts[1])
            if view is None:
                return _error(404, "AsyncTaskNotFound", f"async task '{parts[1]}' not found")
            return 200, view, {}
        if parts[0] == "async-tasks" and len(parts) == 3 and parts[2] == "stop" and method == "PUT":
            return self._stop(parts[1])
        return _error(404, "NotFound", f"no API {method} {path}")

    def _invoke(
        self, headers: Mapping[str, str], body: bytes, request_id: str
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        if headers.get("x-fc-invocation-type", "Sync") != "Async":
            return _error(400, "InvalidArgument", "the double serves Async invocations only")
        if len(body) > _MAX_PAYLOAD:
            return _error(413, "RequestEntityTooLarge", f"payload over {_MAX_PAYLOAD} bytes")
        task_id = headers.get("x-fc-async-task-id") or f"t{uuid.uuid4().hex}"
        if not _TASK_ID.fullmatch(task_id):
            return _error(400, "InvalidArgument", "the async task id breaks FC's naming rule")
        with self._cond:
            if task_id in self._tasks:
                return _error(409, "AsyncTaskAlreadyExist", f"async task '{task_id}' exists")
            task = Task(task_id, request_id, body, time.time())
            task.move("Enqueued")
            self._tasks[task_id] = task
            self._queue.append(task_id)
            self._cond.notify_all()
        return 202, None, {"x-fc-async-task-id": task_id}

    def _stop(self, task_id: str) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        with self._cond:
            task = self._tasks.get(task_id)
            if task is None:
                return _error(404, "AsyncTaskNotFound", f"async task '{task_id}' not found")
            if task.state in FINAL:
                return _error(400, "InvalidArgument", f"task already finished ({task.state})")
            conn = task.conn
            task.move("Stopped", "stopped by StopAsyncTask")
            self._cond.notify_all()
        if conn is not None:
            _cut(conn)
        return 200, None, {}

    # -- delivery ----------------------------------------------------------------------

    def _deliver_loop(self) -> None:
        outcome: tuple[str, int | None, str, str] | None
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait(0.5)
                if self._closing:
                    return
                task = self._tasks[self._queue.pop(0)]
                if task.state != "Enqueued":
                    continue  # stopped while queued
                if time.time() - task.enqueued > self.max_event_age_s:
                    task.move("Expired", "max event age exceeded")
                    task.error = "the event expired in the queue"
                    outcome = ("EventAgeExceeded", None, "EventExpired", task.error)
                else:
                    task.move("Running")
                    outcome = None
                self._cond.notify_all()
            if outcome is None:
                outcome = self._deliver(task)
            if outcome is not None:
                self._destination(task, *outcome)

    def _deliver(self, task: Task) -> tuple[str, int | None, str, str] | None:
        """POST the task to the worker; None on success, else the destination's facts."""
        if self.worker_url is None:
            error: tuple[int | None, str, str] = (None, "UnhandledInvocationError", "no worker")
        else:
            error_or_none = self._post_worker(task)
            if error_or_none is None:
                return None
            error = error_or_none
        with self._cond:
            if task.state == "Stopped":
                return None  # StopAsyncTask cut it: FC sends no destination for a stop
            task.move("Failed", error[2])
            task.error = error[2]
            self._cond.notify_all()
        return ("RetriesExhausted", *error)

    def _post_worker(self, task: Task) -> tuple[int | None, str, str] | None:
        assert self.worker_url is not None
        url = urlsplit(self.worker_url)
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=self.timeout_s)
        headers = self._fc_headers(self.function, task.request_id)
        headers["x-fc-async-task-id"] = task.task_id
        with self._cond:
            task.conn = conn
        try:
            conn.request("POST", url.path.rstrip("/") + "/invoke", task.payload, headers)
            response = conn.getresponse()
            answer = response.read(1 << 20).decode("utf-8", "replace")
        except TimeoutError:
            return (
                None,
                "UnhandledInvocationError",
                f"function timed out after {self.timeout_s:g} s",
            )
        except (OSError, http.client.HTTPException) as exc:
            return None, "UnhandledInvocationError", f"instance crashed: {type(exc).__name__}"
        finally:
            with self._cond:
                task.conn = None
            conn.close()
        fc_status = response.getheader("x-fc-status")
        with self._cond:
            task.answer = answer
            if response.status == 200 and fc_status in (None, "200"):
                if task.state == "Running":
                    task.move("Succeeded")
                self._cond.notify_all()
                return None
        code = int(fc_status) if fc_status and fc_status.isdigit() else response.status
        kind = "HandledInvocationError" if fc_status else "UnhandledInvocationError"
        return code, kind, f"the function answered {code}"

    def _destination(
        self, task: Task, condition: str, status: int | None, error_type: str, message: str
    ) -> None:
        record = destination_record(task, self.arn, condition, status, error_type, message)
        delivered = "Failed"
        if self.failure_url is not None:
            delivered = "Succeeded" if self._post_destination(record) else "Failed"
        with self._cond:
            self.destinations.append(record)
            task.destination_status = delivered
            self._cond.notify_all()

    def _post_destination(self, record: dict[str, Any]) -> bool:
        assert self.failure_url is not None
        url = urlsplit(self.failure_url)
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=60)
        headers = self._fc_headers("scd-failure-handler", uuid.uuid4().hex)
        try:
            conn.request("POST", url.path.rstrip("/") + "/invoke", json.dumps(record), headers)
            response = conn.getresponse()
            response.read()
            return response.status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()

    def _fc_headers(self, function: str, request_id: str) -> dict[str, str]:
        return {
            "content-type": "application/octet-stream",
            "x-fc-request-id": request_id,
            "x-fc-control-path": "/invoke",
            "x-fc-invocation-type": "Async",
            "x-fc-function-name": function,
            "x-fc-function-handler": "index.handler",
            "x-fc-function-memory": "4096",
            "x-fc-region": self.region,
            "x-fc-account-id": self.account_id,
            "x-fc-qualifier": "LATEST",
        }


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    return status, {"Code": code, "Message": message, "RequestId": uuid.uuid4().hex}, {}


def _cut(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
