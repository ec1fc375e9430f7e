"""``LocalInvoker``: Function Compute's async invocation, emulated on one machine.

Jobs go into a durable SQLite queue (``TaskQueue``) and are delivered as FC delivers
an event to a custom runtime: ``POST {endpoint}/invoke`` with the job's JSON and the
``x-fc-*`` headers, one delivery thread per endpoint (one worker instance each, with
instance concurrency 1). FC's async semantics: dedup by task id, retries on a
function error with backoff, max event age, on-success and on-failure destinations
(here callbacks), stop, and a lease per running task so that a restart, or several
invoker processes on one file, never deliver a task twice at once.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from pydantic import ValidationError

from scd_core.errors import BackendError, ConfigError
from scd_core.invokers.queue import TaskQueue, Transition
from scd_core.invokers.results import AsyncTask, Attempt, InvocationResult, Policy
from scd_core.models import Job
from scd_core.settings import WORKER_TOKEN_HEADER
from scd_core.stores.rows import dump_model

__all__ = ["LocalInvoker"]

log = logging.getLogger(__name__)

ResultCallback = Callable[[Job, InvocationResult], None]
_MAX_BODY = 64 * 1024  # bytes of a worker's answer kept in results and task records
_ABORT_WAIT_S = 2.0


class LocalInvoker:
    """An ``Invoker`` delivering to worker HTTP servers at ``endpoints`` (base URLs).

    ``dispatch``, ``stop`` and ``task`` work without ``start()`` (a process that only
    enqueues, such as a trigger, never starts one); ``start()`` begins delivery.
    Callbacks: ``on_success(job, result)`` and ``on_failure(job, result)`` run on a
    delivery thread once per task that ends ``Succeeded``, ``Failed`` or ``Expired``
    (``result.error_message`` is the reason, e.g. "expired in queue"), or ``Stopped``
    while running (the last attempt's outcome picks the callback). ``on_stop(job_id)``
    runs in the thread calling ``stop`` when the stop takes effect; a task stopped
    while queued gets no other callback. A callback's exception is logged and ignored.
    ``clock`` gives queue times in seconds, the same clock in every process sharing
    ``db_path``; the policy (``max_retries``, ``max_event_age_s``, backoff) is applied
    by whichever invoker settles a task, so processes sharing a file should agree on it.
    """

    def __init__(
        self,
        db_path: Path,
        endpoints: Sequence[str] = (),
        *,
        max_retries: int = 0,
        max_event_age_s: float = 86400.0,
        lease_s: float = 30.0,
        retry_backoff_s: float = 1.0,
        on_success: ResultCallback | None = None,
        on_failure: ResultCallback | None = None,
        on_stop: Callable[[str], None] | None = None,
        request_timeout_s: float = 86400.0,
        clock: Callable[[], float] = time.time,
        poll_s: float = 0.1,
        function_name: str = "scd-worker",
        function_handler: str = "index.handler",
        memory_mb: int = 2048,
        account_id: str = "0000000000000000",
        worker_token: str | None = None,
    ) -> None:
        if max_retries < 0 or min(max_event_age_s, lease_s, request_timeout_s, poll_s) <= 0:
            raise ConfigError("invoker: max_retries must be >= 0 and every duration > 0")
        if retry_backoff_s < 0:
            raise ConfigError("invoker: retry_backoff_s must be >= 0")
        self._endpoints = [_check_endpoint(url) for url in endpoints]
        self._policy = Policy(max_retries, max_event_age_s, lease_s, retry_backoff_s)
        self._on_success = on_success
        self._on_failure = on_failure
        self._on_stop = on_stop
        self._timeout = request_timeout_s
        self._clock = clock
        self._poll_s = poll_s
        self._headers = {
            "content-type": "application/json",
            "x-fc-function-name": function_name,
            "x-fc-function-handler": function_handler,
            "x-fc-function-memory": str(memory_mb),
            "x-fc-region": "local",
            "x-fc-account-id": account_id,
            "x-fc-qualifier": "LATEST",
            "x-fc-invocation-type": "Async",
            "x-fc-control-path": "/invoke",
            **({WORKER_TOKEN_HEADER: worker_token} if worker_token else {}),
        }
        arn = f"acs:fc:local:{account_id}:functions/{function_name}"
        self._queue = TaskQueue(Path(db_path), function_arn=arn)
        self._owner = f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._generation = 0
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._aborting = threading.Event()
        self._keeper_stop = threading.Event()
        self._inflight: dict[str, str] = {}  # owner -> task id, for lease renewal
        self._connections: dict[str, http.client.HTTPConnection] = {}

    def __repr__(self) -> str:
        return f"LocalInvoker({str(self._queue.path)!r}, endpoints={len(self._endpoints)})"

    def __enter__(self) -> LocalInvoker:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the Invoker Protocol ---------------------------------------------------------

    def dispatch(self, job: Job) -> None:
        """Enqueue durably unless ``job.id`` is known; returns before any delivery."""
        self.dispatch_many([job])

    def dispatch_many(self, jobs: Sequence[Job]) -> None:
        """``dispatch`` of each job in one queue transaction (``dispatch_many`` of
        ``scd_core.invoker``); none is enqueued if it raises ``BackendError``."""
        if self._closed:
            raise BackendError("the invoker is closed")
        tasks = [(job.id, dump_model(job)) for job in jobs]
        if any(self._queue.enqueue_many(tasks, self._clock())):
            with self._wake:
                self._generation += 1
                self._wake.notify()

    def stop(self, job_id: str) -> None:
        """Queued: ``Stopped``, never delivered. Running: ``Stopping``, ``on_stop`` asks
        the worker to cancel; the task ends ``Stopped`` when its attempt returns."""
        if self._queue.stop(job_id, self._clock()) is not None and self._on_stop is not None:
            try:
                self._on_stop(job_id)
            except Exception:
                log.exception("the on_stop callback raised for task %s", job_id)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop delivering; idempotent. Queued tasks stay queued in the file.

        Deliveries in flight get ``timeout_s`` to finish and be recorded; after that
        their connections are cut and the tasks are left ``Running`` under a lease
        nobody renews, so the next invoker settles them as lost ("worker lost").
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + timeout_s
        delivery, heartbeat = threads[:-1], threads[-1:]
        for thread in delivery:
            thread.join(max(deadline - time.monotonic(), 0))
        if any(thread.is_alive() for thread in delivery):
            self._aborting.set()
            abort_deadline = time.monotonic() + _ABORT_WAIT_S
            while time.monotonic() < abort_deadline and any(t.is_alive() for t in delivery):
                self._cut_connections()
                for thread in delivery:
                    thread.join(0.05)
        self._keeper_stop.set()
        for thread in heartbeat:
            thread.join()
        self._queue.close()

    # -- beyond the Protocol -----------------------------------------------------------

    def start(self) -> None:
        """Start one delivery thread per endpoint and the lease keeper; idempotent."""
        with self._lock:
            if self._closed:
                raise BackendError("the invoker is closed")
            if self._threads:
                return
            if not self._endpoints:
                raise ConfigError("invoker: start() needs at least one endpoint")
            for index, endpoint in enumerate(self._endpoints):
                owner = f"{self._owner}/{index}"
                self._threads.append(
                    threading.Thread(
                        target=self._deliver_loop,
                        args=(owner, endpoint),
                        name=f"scd-invoker-{index}",
                        daemon=True,
                    )
                )
            self._threads.append(
                threading.Thread(target=self._keep_leases, name="scd-invoker-lease", daemon=True)
            )
            for thread in self._threads:
                thread.start()

    def task(self, job_id: str) -> AsyncTask | None:
        """The task of ``job_id`` as FC's GetAsyncTask shows it; None if unknown."""
        return self._queue.get(job_id)

    def counts(self) -> dict[str, int]:
        """How many tasks the queue holds in each FC status."""
        return self._queue.counts()

    # -- delivery ----------------------------------------------------------------------

    def _deliver_loop(self, owner: str, endpoint: str) -> None:
        """Claim and deliver until ``close()``; no error ends it (the endpoint would starve)."""
        step: Transition | None = None
        while not self._stopping.is_set():
            generation = self._generation
            try:
                # right after a step more work is likely: skip the read-only probe
                step = self._step(owner, endpoint, probe=step is None)
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("invoker delivery thread %s failed a step; going on", owner)
                step = None
            if step is None:
                with self._wake:
                    if generation == self._generation and not self._stopping.is_set():
                        self._wake.wait(self._poll_s)

    def _step(self, owner: str, endpoint: str, *, probe: bool) -> Transition | None:
        step = self._queue.next_transition(
            owner, endpoint, self._clock(), self._policy, probe=probe
        )
        if step is not None and step.action == "deliver":
            self._attempt(owner, endpoint, step)
        elif step is not None:
            self._report(step)
        return step

    def _attempt(self, owner: str, endpoint: str, step: Transition) -> None:
        with self._lock:
            self._inflight[owner] = step.task_id
        try:
            attempt = self._post(owner, endpoint, step)
        finally:
            with self._lock:
                del self._inflight[owner]
        if self._aborting.is_set() and not attempt.ok:
            return  # cut by close(): left Running, the next invoker settles it as lost
        try:
            final = self._queue.finish(step.task_id, owner, attempt, self._clock(), self._policy)
        except BackendError:
            log.exception("cannot record attempt %d of task %s", step.attempt, step.task_id)
            return
        if final is None:
            log.warning("task %s: lease lost during attempt %d", step.task_id, step.attempt)
        else:
            self._report(final)

    def _post(self, owner: str, endpoint: str, step: Transition) -> Attempt:
        url = urlsplit(endpoint)
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        conn = kind(url.hostname or "", url.port, timeout=self._timeout)
        headers = {
            **self._headers,
            "x-fc-request-id": step.request_id,
            "x-fc-async-task-id": step.task_id,
        }
        with self._lock:
            self._connections[owner] = conn
        try:
            conn.request("POST", url.path.rstrip("/") + "/invoke", step.payload.encode(), headers)
            response = conn.getresponse()
            body = response.read(_MAX_BODY).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as exc:
            reason = f"delivery to {endpoint} failed: {_describe(exc, self._timeout)}"
            return Attempt(ok=False, error_type="UnhandledInvocationError", error=reason)
        finally:
            with self._lock:
                self._connections.pop(owner, None)
            conn.close()
        return _judge(endpoint, response.status, response.getheader("x-fc-status"), body)

    def _report(self, step: Transition) -> None:
        callback = self._on_success if step.action == "success" else self._on_failure
        if callback is None or step.result is None:
            return
        try:
            job = Job.model_validate_json(step.payload)
        except ValidationError:
            log.exception("task %s holds a payload that is not a job", step.task_id)
            return
        try:
            callback(job, step.result)
        except Exception:
            log.exception("the on_%s callback raised for task %s", step.action, step.task_id)

    def _keep_leases(self) -> None:
        """Renew the leases of deliveries in flight every third of the lease."""
        interval = self._policy.lease_s / 3
        while not self._keeper_stop.wait(interval):
            with self._lock:
                leases = [(task_id, owner) for owner, task_id in self._inflight.items()]
            try:
                self._queue.renew(leases, self._clock() + self._policy.lease_s)
            except BackendError:
                log.exception("cannot renew invoker leases")

    def _cut_connections(self) -> None:
        with self._lock:
            sockets = [conn.sock for conn in self._connections.values() if conn.sock]
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed by its thread
                sock.shutdown(socket.SHUT_RDWR)


def _check_endpoint(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"invoker endpoint {url!r}: expected http://HOST:PORT")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError("invoker endpoint: no credentials, query or fragment allowed")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ConfigError(f"invoker endpoint {url!r}: bad port") from exc
    return url


def _judge(endpoint: str, status: int, fc_status: str | None, body: str) -> Attempt:
    """FC's reading of an answer: success is HTTP 200 and ``x-fc-status`` absent or 200."""
    if fc_status is not None and fc_status.strip() != "200":
        code = int(fc_status) if fc_status.strip().isdigit() else None
        error = f"the function answered x-fc-status: {fc_status.strip()}"
        return Attempt(False, code, "HandledInvocationError", error, body)
    if status != 200:
        error = f"HTTP {status} from {endpoint}/invoke"
        return Attempt(False, status, "UnhandledInvocationError", error, body)
    return Attempt(True, 200, None, None, body)


def _describe(exc: BaseException, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError | http.client.RemoteDisconnected):
        return "connection closed before an answer (the worker died?)"
    return f"{type(exc).__name__}: {exc}"
