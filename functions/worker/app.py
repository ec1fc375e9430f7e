"""The worker function: an FC custom-runtime event function that runs one job per ``/invoke``.

Routes (Function Compute's custom runtime contract, ``reference/FC.md`` §1):

- ``POST /invoke``: the body is a Job (JSON). Runs it in a worker thread (so the
  event loop stays free for ``/pre-stop``) and answers 200 ``{"run_id", "status"}``
  for every user outcome, or 200 ``{"run_id", "skipped"}`` for a run already
  final or held by another worker. A malformed job answers 400 and a crash of
  the worker itself 500, both with ``x-fc-status: 404`` (FC's function error)
  and a short message, never a traceback.
- ``POST /initialize``: opens the store and the sink, creates the directories and
  imports the engine (FC calls it once per instance, before traffic); 200.
- ``GET /pre-stop``: the instance is going away: every running job is killed, its
  logs flushed and closed, its run ended ``error`` "worker interrupted" and its
  lease released; 200.

When ``Settings.worker_token`` is set (``scd serve`` makes one at start and gives it
to its invoker and workers alone), every route answers 401 unless the request
carries it in ``x-scd-worker-token``: any other local process, a pipeline step
included, cannot hand the worker a job or stop its runs. The token is checked
before the body is read. A job names only ids: the repository, ref, commit and
pipeline come from the run record in the store and the app's configuration.

``create_app(settings)`` builds the app; ``app`` is the one ``uvicorn
functions.worker.app:app`` serves, configured from ``SCD_*`` variables (FC
wants it on ``0.0.0.0:9000``). State and logs live under ``settings.data_dir``
(logs in ``<data_dir>/logs``, mirrors and plugin caches in ``<data_dir>/cache``,
workspaces in ``<data_dir>/work``); apps come from ``settings.config``.
"""

from __future__ import annotations

import contextlib
import hmac
import importlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from scd_core.errors import BadRequest, ConfigError, ScdError
from scd_core.logsink import LogSink, validate_id
from scd_core.models import Job
from scd_core.settings import WORKER_TOKEN_HEADER, Settings
from scd_core.store import RunStore

from functions.worker.execute import Execution, WorkerEnv
from functions.worker.secrets import LenientEnviron

if TYPE_CHECKING:
    from scd_core.invoker import Invoker
    from scd_engine.runtime.sandbox import Sandbox
    from scd_trigger_spec import App

    from functions.report import Reporting

__all__ = ["WorkerState", "app", "create_app", "step_sandbox"]

_log = logging.getLogger("scd.worker")
_FC_ERROR = {"x-fc-status": "404"}
_MAX_JOBS = 200  # FC's highest instanceConcurrency


class WorkerState:
    """The instance's store, sink and the jobs it is running (opened lazily, once)."""

    def __init__(self, settings: Settings, store: RunStore | None = None) -> None:
        self.settings = settings
        self.instance = os.environ.get("FC_INSTANCE_ID") or f"{socket.gethostname()}-{os.getpid()}"
        self._store = store
        self._env: WorkerEnv | None = None
        self._lock = threading.Lock()
        self.active: dict[str, Execution] = {}
        self._invoker: Invoker | None = None
        self._reporting: Reporting | None = None

    def _report(self, data_dir: Path, store: RunStore) -> Reporting | None:
        """Statuses, callbacks and notifications from this worker (None: off, with
        ``SCD_REPORT=0``); the outbox is ``<data_dir>/outbox.db``."""
        from functions.report import reporting

        if os.environ.get("SCD_REPORT", "1").strip().lower() in ("0", "false", "no", "off"):
            return None
        return reporting(data_dir, store, self._quiet_app, os.environ, self.settings.public_url)

    def _quiet_app(self, name: str) -> App | None:
        try:
            return self.load_app(name)
        except ScdError:
            return None

    def env(self) -> WorkerEnv:
        """The worker environment, opening the store and sink on first use."""
        with self._lock:
            if self._env is None:
                from scd_core.lifecycle import Lifecycle
                from scd_core.sinks import open_sink
                from scd_core.stores import open_store

                data_dir = Path(self.settings.data_dir).resolve()
                for sub in ("logs", "cache", "work"):
                    (data_dir / sub).mkdir(parents=True, exist_ok=True)
                store = self._store or open_store(self.settings.store)
                sink: LogSink = open_sink(self.settings.log_sink)
                lifecycle = Lifecycle(store)
                self._reporting = self._report(data_dir, store)
                if self._reporting is not None:
                    lifecycle.listen(self._reporting.reporter)
                self._env = WorkerEnv(
                    store=store,
                    sink=sink,
                    data_dir=data_dir,
                    lease_ttl_s=self.settings.lease_ttl_seconds,
                    grace_s=self.settings.step_grace_seconds,
                    load_app=self.load_app,
                    environ=os.environ,
                    lifecycle=lifecycle,
                    sandbox=step_sandbox(self.settings.sandbox),
                    dispatch=self.dispatch,
                )
            return self._env

    def dispatch(self, jobs: list[Job]) -> None:
        """Hand ``jobs`` (a DAG's next task instances) to the invoker ``SCD_INVOKER``
        names, opened on first use; ``ConfigError`` when none is configured (the
        default ``memory://`` reaches no worker)."""
        from scd_core.errors import BackendError, ConfigError
        from scd_core.invoker import dispatch_many
        from scd_core.invokers import open_invoker

        with self._lock:
            if self._invoker is None:
                if self.settings.invoker.startswith("memory:"):
                    raise ConfigError("no invoker configured (SCD_INVOKER) for the next tasks")
                self._invoker = open_invoker(self.settings.invoker)
            invoker = self._invoker
        failures = [exc for exc in dispatch_many(invoker, jobs) if exc is not None]
        if failures:
            raise BackendError(f"dispatch failed: {type(failures[0]).__name__}") from failures[0]

    def warm(self) -> None:
        """Open the store and sink and import the engine, so the first job starts fast."""
        self.env()
        for module in ("scd_engine.runtime.runner", "scd_engine.spec"):
            importlib.import_module(module)

    def load_app(self, name: str) -> App | None:
        """The App ``name`` from scd.yaml (read per job, so edits apply), else the store's.

        Apps registered through the apps API live in the store, validated when they
        were put. None when neither names the app: the job then runs with the
        worker's environment secrets only. ``ConfigError`` if scd.yaml is invalid
        or a stored app no longer validates. A ``${env:VAR}`` unset here does not
        fail the file (see ``LenientEnviron``).
        """
        from functions.appconfig import load_app  # scd.yaml's models: not on the cold path

        return load_app(name, self.settings.config, self.env().store, LenientEnviron(os.environ))

    def execute(self, job: Job, request_id: str) -> dict[str, str]:
        """Run ``job`` (blocking); the answer body."""
        execution = Execution(self.env(), job, owner=f"{self.instance}/{request_id}")
        with self._lock:
            self.active[job.id] = execution
        try:
            return execution.run().answer()
        finally:
            with self._lock:
                if self.active.get(job.id) is execution:
                    del self.active[job.id]
            self._flush_reports()

    def _flush_reports(self) -> None:
        """On Function Compute, send what the job queued before answering: an instance
        is frozen between invocations, so its courier thread may not run again soon."""
        if self._reporting is not None and os.environ.get("FC_FUNCTION_NAME"):
            self._reporting.courier.flush(timeout_s=30.0)

    def pre_stop(self) -> list[str]:
        """Interrupt every running job; the run ids interrupted."""
        with self._lock:
            running = list(self.active.values())
        wait_s = min(self.settings.step_grace_seconds, 5.0) + 1.0
        for execution in running:
            execution.interrupt(wait_s)
        return [execution.run_id for execution in running]

    def close(self) -> None:
        if self._reporting is not None:
            self._reporting.close()
        if self._env is not None and self._store is None:
            self._env.store.close()


def create_app(settings: Settings | None = None, *, store: RunStore | None = None) -> FastAPI:
    """The worker app; ``settings`` default to ``Settings.from_env()`` at start-up."""

    @contextlib.asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        state = WorkerState(settings or Settings.from_env(), store)
        api.state.worker = state
        # Jobs and hooks draw threads from separate pools, so a full house of
        # running jobs can never keep /pre-stop waiting for a thread.
        api.state.job_threads = anyio.CapacityLimiter(_MAX_JOBS)
        api.state.hook_threads = anyio.CapacityLimiter(4)
        try:
            yield
        finally:
            state.close()

    api = FastAPI(title="scd worker", version="0.1.0", lifespan=lifespan)

    @api.post("/invoke")
    async def invoke(request: Request) -> JSONResponse:
        state: WorkerState = request.app.state.worker
        refused = _refused(state, request)
        if refused is not None:
            return refused
        request_id = request.headers.get("x-fc-request-id") or uuid.uuid4().hex
        body = await request.body()
        try:
            job = Job.model_validate_json(body)
            validate_id("run id", job.run)  # it names directories: no path tricks
        except (ValidationError, BadRequest):
            return JSONResponse({"error": "the body is not a valid job"}, 400, _FC_ERROR)
        print(f"FC Invoke Start RequestId: {request_id}", flush=True)
        try:
            answer = await anyio.to_thread.run_sync(
                state.execute, job, request_id, limiter=request.app.state.job_threads
            )
        except Exception as exc:  # a crash of ours: the run was ended `error` already
            _log.error("request %s: worker crashed (%s)", request_id, type(exc).__name__)
            message = f"worker crashed: {type(exc).__name__}"
            return JSONResponse({"run_id": job.run, "error": message}, 500, _FC_ERROR)
        finally:
            print(f"FC Invoke End RequestId: {request_id}", flush=True)
        return JSONResponse(answer)

    @api.post("/initialize")
    async def initialize(request: Request) -> JSONResponse:
        state: WorkerState = request.app.state.worker
        refused = _refused(state, request)
        if refused is not None:
            return refused
        try:
            await anyio.to_thread.run_sync(state.warm, limiter=request.app.state.hook_threads)
        except ScdError as exc:
            return JSONResponse({"error": str(exc)}, 500, _FC_ERROR)
        return JSONResponse({"ok": True})

    @api.get("/pre-stop")
    async def pre_stop(request: Request) -> JSONResponse:
        state: WorkerState = request.app.state.worker
        refused = _refused(state, request)
        if refused is not None:
            return refused
        interrupted = await anyio.to_thread.run_sync(
            state.pre_stop, limiter=request.app.state.hook_threads
        )
        return JSONResponse({"interrupted": interrupted})

    return api


def step_sandbox(mode: str) -> Sandbox | None:
    """The sandbox ``Settings.sandbox`` asks for: bubblewrap where it can run ("auto"),
    or must ("bwrap": ``ConfigError`` without it), or none."""
    from scd_engine.runtime.sandbox import find_sandbox

    if mode == "none":
        return None
    found = find_sandbox()
    if found is None and mode == "bwrap":
        raise ConfigError("SCD_SANDBOX=bwrap: bubblewrap (bwrap) cannot run on this machine")
    return found


def _refused(state: WorkerState, request: Request) -> JSONResponse | None:
    """401 unless the request carries the worker token (when one is set)."""
    token = state.settings.worker_token
    if token is None:
        return None
    presented = request.headers.get(WORKER_TOKEN_HEADER, "").encode("utf-8", "surrogateescape")
    if hmac.compare_digest(presented, token.get_secret_value().encode()):
        return None
    return JSONResponse({"error": "this worker takes jobs from its invoker only"}, 401, _FC_ERROR)


app = create_app()
