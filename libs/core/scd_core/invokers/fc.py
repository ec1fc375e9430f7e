"""``FcInvoker``: jobs handed to the worker function by Function Compute 3.0's async invocation.

``dispatch(job)`` is FC's ``InvokeFunction`` with ``x-fc-invocation-type: Async``
and ``x-fc-async-task-id`` = ``task_id(job.id)``: FC keeps one task per id, so a
second dispatch of a job (a retried webhook, a retried request) is refused as a
duplicate, which is success here. FC then delivers the job's JSON to the
worker's ``POST /invoke`` (at least once; s.yaml sets no retries). ``stop`` is
``StopAsyncTask``, the hard stop of a cancel: at once for a queued task, after
``stop_grace_s`` for a running one (the worker ends a cancelled run itself);
``task`` reads ``GetAsyncTask``. The body is the job only, never more than
FC's 128 KB async limit (a larger job is refused before sending).

Transport: the standard library's ``http.client`` with a small pool of kept-alive
connections, and our own ACS3-HMAC-SHA256 signature (``fcsign``), so a trigger's
cold start imports neither the vendor SDK nor an HTTP client library. Endpoint:
``https://<account>.<region>.fc.aliyuncs.com``, ``<region>-internal`` when this
process runs on FC in that region (``FC_REGION``), or the ``endpoint`` given (a
loopback double in tests).

Regions: a job goes to ``job.region`` (else the invoker's) and ``job.function``
(else the invoker's function), at that region's endpoint: an override from
``endpoints`` (region -> URL; doubles in tests) or FC's own. ``stop`` finds the
task where the job was dispatched from this process, else tries each region
it knows. Credentials are read from the environment
(``Credentials.from_env``) at each request, so a rotated STS token is picked up.

Retries: a 429, a 5xx or a connection failure is retried up to ``attempts`` times
in all with doubling, jittered backoff (retrying ``InvokeFunction`` is safe: the
task id makes a repeat a no-op). The defaults (3 attempts of at most 3 s, 0.2 s
backoff) bound a dispatch to about 10 s, the time GitHub gives a webhook answer.

Errors: every failure raises ``BackendError`` naming the operation, HTTP status
and FC's error code and message, with the cause chained; no message contains the
access key secret or the security token. Thread-safe; ``close()`` is idempotent.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import ValidationError

from scd_core.errors import AuthError, BackendError, ConfigError
from scd_core.invokers.fchttp import Pool
from scd_core.invokers.fcsign import API_VERSION, Credentials, signed_headers
from scd_core.models import Job
from scd_core.stores.rows import dump_model

if TYPE_CHECKING:
    from scd_core.invokers.results import AsyncTask

__all__ = [
    "DEFAULT_STOP_GRACE_S",
    "MAX_ASYNC_PAYLOAD",
    "FcInvoker",
    "default_endpoint",
    "job_id_of",
    "task_id",
]

MAX_ASYNC_PAYLOAD = 128 * 1024  # FC's limit on an async invocation's body
_TASK_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")
_FUNCTION = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")
_RETRYABLE_ERRORS = (OSError, http.client.HTTPException)
_PLACES_KEPT = 4096  # jobs whose region stop() remembers
_FINAL = ("Succeeded", "Failed", "Stopped", "Expired", "Invalid")
# A cancelled worker's own way out: its poll (0.25 s), the step grace (SCD_STEP_GRACE_SECONDS,
# 10 s by default) between SIGTERM and SIGKILL, and the run's last writes.
DEFAULT_STOP_GRACE_S = 20.0
_log = logging.getLogger("scd.invokers.fc")


def task_id(job_id: str) -> str:
    """FC's task id for ``job_id``: ``scd_<job id>`` when that is a valid task id
    (a letter or ``_`` first, ``[A-Za-z0-9_-]``, at most 128), else ``scdh_`` and a
    SHA-256 of the job id. Deterministic, so dedup and stop find the same task."""
    candidate = f"scd_{job_id}"
    if _TASK_ID.fullmatch(candidate):
        return candidate
    return "scdh_" + hashlib.sha256(job_id.encode("utf-8")).hexdigest()


def job_id_of(task: str) -> str | None:
    """The job id ``task_id`` made ``task`` from, or None when it cannot be known (a
    hashed ``scdh_`` id, or not one of scd's). The inverse of ``task_id``, kept here
    so the scheme lives in one place; the failure handler reads it."""
    if task.startswith("scd_") and len(task) > 4:
        return task[4:]
    return None


def default_endpoint(account_id: str, region: str, environ: Mapping[str, str]) -> str:
    """FC's invocation endpoint; the internal one from a function in the same region."""
    internal = "-internal" if environ.get("FC_REGION") == region else ""
    return f"https://{account_id}.{region}{internal}.fc.aliyuncs.com"


class FcError(Exception):
    """An FC answer that is not a success: HTTP status, FC's code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.http_status, self.code, self.message = status, code, message
        super().__init__(f"HTTP {status} {code}: {message}".rstrip(": "))


class FcInvoker:
    """An ``Invoker`` on FC 3.0's async invocation of ``function`` (see the module doc).

    ``credentials`` is called for each request (default: the environment).
    ``attempts`` counts every try of one request (first one included); backoff
    starts at ``backoff_s``; ``sleep`` waits it (tests pass a recorder).
    """

    def __init__(
        self,
        account_id: str,
        region: str,
        function: str,
        *,
        qualifier: str = "LATEST",
        endpoint: str | None = None,
        credentials: Callable[[], Credentials] = Credentials.from_env,
        timeout_s: float = 3.0,
        attempts: int = 3,
        backoff_s: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        environ: Mapping[str, str] | None = None,
        endpoints: Mapping[str, str] | None = None,
        stop_grace_s: float = DEFAULT_STOP_GRACE_S,
    ) -> None:
        if not _FUNCTION.fullmatch(function):
            raise ConfigError(f"fc invoker: {function!r} is not a function name")
        if attempts < 1 or timeout_s <= 0 or backoff_s < 0 or stop_grace_s < 0:
            raise ConfigError("fc invoker: attempts >= 1, timeout_s > 0 and backoff_s >= 0")
        self._environ = dict(environ or os.environ)
        self.account_id = account_id
        self.region = region
        base = endpoint or default_endpoint(account_id, region, self._environ)
        self.endpoint = base
        self.function = function
        self.qualifier = qualifier
        self._credentials = credentials
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._sleep = sleep
        self._timeout_s = timeout_s
        self._endpoints = {region: base, **dict(endpoints or {})}
        self._pools: dict[str, Pool] = {}
        self._pools_lock = threading.Lock()
        self._placed: dict[str, tuple[str, str]] = {}  # job id -> (region, function)
        self._stop_grace_s = stop_grace_s
        self._timers: set[threading.Timer] = set()
        self._closed = False
        for other in self._endpoints:  # a bad override fails at start-up, not at dispatch
            self._pool_for(other)

    def __repr__(self) -> str:
        return f"FcInvoker({self.function!r}, endpoint={self.endpoint!r})"

    def __enter__(self) -> FcInvoker:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the Invoker Protocol ---------------------------------------------------------

    def dispatch(self, job: Job) -> None:
        """``InvokeFunction`` Async with the job's task id; a duplicate id is success."""
        if self._closed:
            raise BackendError("the invoker is closed")
        body = dump_model(job).encode("utf-8")
        if len(body) > MAX_ASYNC_PAYLOAD:
            raise BackendError(
                f"job {job.id} is {len(body)} bytes: over FC's async payload limit of "
                f"{MAX_ASYNC_PAYLOAD} bytes"
            )
        headers = {
            "content-type": "application/octet-stream",
            "x-fc-invocation-type": "Async",
            "x-fc-async-task-id": task_id(job.id),
        }
        place = self.place(job)
        where = f"InvokeFunction of job {job.id} in {place[0]}"
        action = "InvokeFunction"
        status, _, answer = self._call("POST", "invocations", body, action, headers, where, place)
        if status in (200, 202) or _duplicate(error := _fc_error(status, answer)):
            with self._pools_lock:
                self._placed[job.id] = place
                if len(self._placed) > _PLACES_KEPT:  # the oldest first: dicts keep order
                    del self._placed[next(iter(self._placed))]
            return
        raise self._failure(where, error)

    def stop(self, job_id: str, *, region: str | None = None, function: str | None = None) -> None:
        """Cancel's hard stop: ``StopAsyncTask``, at once for a queued task, after
        ``stop_grace_s`` for a running one; an unknown or finished task is a no-op.

        A running worker is given the grace to end by itself: it polls the store
        for the cancel request (every 0.25 s), stops the step (SIGTERM, then
        SIGKILL after the step grace) and ends the run ``cancelled``. If FC still
        shows the task running when the grace is over, a timer thread of this
        invoker stops it (``stop_grace_s=0``: at once). The task is looked for
        where ``region``/``function`` say, else where this invoker dispatched the
        job, else in every region it knows (FC answers 404 where it is not).
        """
        for place in self._places(job_id, region, function):
            task = self._task_in(job_id, place)
            if task is None or task.status in _FINAL:
                continue
            if task.status in ("Running", "Stopping") and self._stop_grace_s > 0:
                self._stop_later(job_id, place)
            else:
                self._stop_in(job_id, place)

    def _places(
        self, job_id: str, region: str | None, function: str | None
    ) -> list[tuple[str, str]]:
        if region is not None or function is not None:
            return [(region or self.region, function or self.function)]
        with self._pools_lock:
            known = self._placed.get(job_id)
            every = list(dict.fromkeys((r, self.function) for r in self._endpoints))
        return [known] if known is not None else every

    def _stop_later(self, job_id: str, place: tuple[str, str]) -> None:
        def hard_stop() -> None:
            with self._pools_lock:
                self._timers.discard(timer)
            try:
                task = self._task_in(job_id, place)
                if task is not None and task.status not in _FINAL:
                    _log.warning("job %s: not ended %gs after cancel; stopping its FC task",
                                 job_id, self._stop_grace_s)  # fmt: skip
                    self._stop_in(job_id, place)
            except BackendError as exc:  # nobody to raise to on this thread
                _log.error("job %s: hard stop failed: %s", job_id, exc)

        timer = threading.Timer(self._stop_grace_s, hard_stop)
        timer.daemon = True
        with self._pools_lock:
            if self._closed:
                return
            self._timers.add(timer)
        timer.start()

    def _stop_in(self, job_id: str, place: tuple[str, str]) -> None:
        where = f"StopAsyncTask of job {job_id} in {place[0]}"
        path = f"async-tasks/{quote(task_id(job_id), safe='')}/stop"
        status, _, answer = self._call("PUT", path, b"", "StopAsyncTask", {}, where, place)
        if status in (200, 202, 204):
            return
        error = _fc_error(status, answer)
        if status in (404, 409) or (status == 400 and _finished(error)):
            return
        raise self._failure(where, error)

    def place(self, job: Job) -> tuple[str, str]:
        """Where ``job`` goes: its region and worker function, else this invoker's."""
        function = job.function or self.function
        if not _FUNCTION.fullmatch(function):
            raise BackendError(f"job {job.id}: {function!r} is not a function name")
        return job.region or self.region, function

    def endpoint_of(self, region: str) -> str:
        """FC's endpoint for ``region``: an override given, else FC's public or internal one."""
        found = self._endpoints.get(region)
        return found or default_endpoint(self.account_id, region, self._environ)

    def _pool_for(self, region: str) -> Pool:
        base = self.endpoint_of(region)
        with self._pools_lock:
            pool = self._pools.get(base)
            if pool is None:
                pool = self._pools[base] = Pool(base, self._timeout_s)
            return pool

    def close(self) -> None:
        """Close the kept-alive connections; later ``dispatch`` raises. Idempotent."""
        with self._pools_lock:
            self._closed = True
            pools = list(self._pools.values())
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()
        for pool in pools:
            pool.close()

    # -- beyond the Protocol -----------------------------------------------------------

    def task(self, job_id: str) -> AsyncTask | None:
        """``GetAsyncTask`` of the job's task (FC's states); None when FC has no such task."""
        with self._pools_lock:
            place = self._placed.get(job_id)
        return self._task_in(job_id, place or (self.region, self.function))

    def _task_in(self, job_id: str, place: tuple[str, str]) -> AsyncTask | None:
        where = f"GetAsyncTask of job {job_id} in {place[0]}"
        path = f"async-tasks/{quote(task_id(job_id), safe='')}"
        status, _, answer = self._call("GET", path, b"", "GetAsyncTask", {}, where, place)
        if status == 404:
            return None
        if status != 200:
            raise self._failure(where, _fc_error(status, answer))
        from scd_core.invokers.results import AsyncTask  # pydantic models: not on cold start

        try:
            return AsyncTask.model_validate_json(answer)
        except ValidationError as exc:
            raise BackendError(f"{where}: FC answered a task scd cannot read") from exc

    # -- requests ----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        sub_path: str,
        body: bytes,
        action: str,
        headers: Mapping[str, str],
        where: str,
        place: tuple[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One signed request to ``place`` (region, function; default: this invoker's),
        retried on 429, 5xx and connection failures."""
        region, function = place or (self.region, self.function)
        pool = self._pool_for(region)
        path = f"/{API_VERSION}/functions/{quote(function, safe='')}/{sub_path}"
        query = {"qualifier": self.qualifier}
        target = f"{path}?qualifier={quote(self.qualifier, safe='~')}"
        last: BaseException | None = None
        for attempt in range(self._attempts):
            if attempt:
                delay = self._backoff_s * 2 ** (attempt - 1)
                self._sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter only
            try:
                creds = self._credentials()
            except AuthError as exc:
                raise BackendError(f"{where}: {exc}") from exc
            signed = signed_headers(
                method, pool.host, path, query, body,
                action=action, credentials=creds, headers=headers,
            )  # fmt: skip
            try:
                status, answer_headers, answer = pool.send(method, target, body, signed)
            except _RETRYABLE_ERRORS as exc:
                last = exc
                continue
            if status == 429 or status >= 500:
                last = _fc_error(status, answer)
                continue
            return status, answer_headers, answer
        assert last is not None
        raise self._failure(f"{where} after {self._attempts} attempt(s)", last)

    def _failure(self, where: str, cause: BaseException) -> BackendError:
        """A ``BackendError`` about ``cause``, scrubbed of every credential value."""
        text = f"{where} failed: {_describe(cause)}"
        with contextlib.suppress(AuthError):
            for secret in self._credentials().secrets():
                text = text.replace(secret, "***")
        error = BackendError(text)
        error.__cause__ = cause
        return error


def _fc_error(status: int, answer: bytes) -> FcError:
    """FC's error JSON (``Code``/``Message``, or FC 2.0's ``ErrorCode``/``ErrorMessage``)."""
    try:
        parsed: Any = json.loads(answer)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return FcError(status, "", answer[:200].decode("utf-8", "replace"))
    code = parsed.get("Code") or parsed.get("code") or parsed.get("ErrorCode") or ""
    message = parsed.get("Message") or parsed.get("message") or parsed.get("ErrorMessage") or ""
    return FcError(status, str(code), str(message)[:500])


def _duplicate(error: FcError) -> bool:
    """FC's refusal of a task id it already has (409; some pages say 400)."""
    text = f"{error.code} {error.message}".lower()
    refused = error.http_status == 400 and ("exist" in text or "duplicat" in text)
    return error.http_status == 409 or refused


def _finished(error: FcError) -> bool:
    """FC's refusal to stop a task that has already ended."""
    text = f"{error.code} {error.message}".lower()
    return "already" in text or "finished" in text


def _describe(cause: BaseException) -> str:
    if isinstance(cause, FcError):
        return str(cause)
    if isinstance(cause, TimeoutError):
        return "no answer in time"
    return f"{type(cause).__name__}: {cause}"
