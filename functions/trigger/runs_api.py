"""``/api/v1/runs``: list runs, one run with its steps, cancel, rerun, and step logs.

Contract (every route checks the bearer token first: 401 missing, invalid or
revoked, 403 without the scope):

- ``GET /api/v1/runs`` (``read``) → ``RunList``: newest first, filtered by
  ``app``, ``status``, ``event`` and ``branch``, ``limit`` (1..1000, default 50)
  per page; ``next_cursor`` is passed back as ``cursor`` for the next page
  (an empty ``app``, ``branch`` or ``cursor`` is the same as none).
- ``GET /api/v1/runs/{id}`` (``read``) → ``RunDetail``: the run, its recorded
  steps in order (the set-up step first) and its task instances. No secret and
  no event payload.
- ``POST /api/v1/runs/{id}/cancel`` (``trigger``) records a cancel request, asks
  the invoker to stop the job and ends a still-queued run ``cancelled``; 202
  ``CancelAnswer`` (the status right after), 409 for a run already ended.
- ``POST /api/v1/runs/{id}/rerun`` (``trigger``) records a new run of the same
  app, event and commit with ``rerun_of = id`` and dedup key ``rerun:<id>:<n>``
  (the first free n from 1), dispatches it like any run, and answers 202
  ``RerunAnswer``; 404 if the app is gone.
- ``GET /api/v1/runs/{id}/steps/{step}/logs`` and
  ``GET /api/v1/runs/{id}/tasks/{task}/steps/{step}/logs``: see
  ``functions.trigger.logstream``.

A malformed run id (``../``, NUL, ...) is 400, an unknown run 404; so is any
``/api/`` path with a ``.`` or ``..`` segment (``DotSegmentGuard``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from scd_core.billing import prices
from scd_core.errors import Conflict, NotFound
from scd_core.lifecycle_keys import log_key
from scd_core.logsink import LogSink, validate_id
from scd_core.models import DEFAULT_TASK, FINAL_STATUSES, Run
from scd_core.store import MAX_LIST_LIMIT, RunStore
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from functions.trigger.approvals import hold_if_needed
from functions.trigger.auth import Scope
from functions.trigger.errors import ERROR_RESPONSES, ErrorBody
from functions.trigger.launcher import new_run_id
from functions.trigger.state import TriggerState, state_of
from functions.trigger.views import (
    CancelAnswer,
    RerunAnswer,
    RunDetail,
    RunList,
    run_detail,
    run_summary,
)

__all__ = [
    "DotSegmentGuard",
    "cancel_run_now",
    "needs",
    "rerun_run",
    "router",
    "sink_of",
    "step_key",
]

router = APIRouter(tags=["runs"])
_MAX_RERUNS = 10_000
_CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorBody, "description": "conflict"}}
_EVENTS = Literal["push", "tag", "pull_request", "schedule", "manual"]
_STATUSES = Literal[
    "queued", "pending", "running", "success", "failure", "cancelled", "skipped", "error", "paused"
]


class DotSegmentGuard:
    """ASGI middleware: a ``/api/`` path with a ``.``/``..`` segment or a NUL is 400.

    ``%2F`` is decoded before routing, so ``runs/..%2F..%2Fetc`` would otherwise
    match no route and answer 404; a path that tries to climb is a bad request,
    whatever it would have matched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith("/api/") and ("\0" in path or _climbs(path)):
            from functions.trigger.errors import error_response

            answer = error_response(400, "bad_request", "invalid path: '.' or '..' segment, or NUL")
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _climbs(path: str) -> bool:
    return any(part in (".", "..") for part in path.split("/"))


# Documents the bearer scheme in OpenAPI; the header itself is checked by Tokens.require.
_BEARER = Security(HTTPBearer(auto_error=False, description="an scd API token"))


def needs(scope: Scope) -> Callable[..., Awaitable[TriggerState]]:
    """A dependency checking the bearer token for ``scope`` before anything else."""

    async def check(request: Request, _: object = _BEARER) -> TriggerState:
        state = state_of(request)
        # scd.yaml's tokens inline; a store token is read in a worker thread
        await state.config.tokens.require_async(request.headers.get("authorization"), scope)
        return state

    return check


def cancel_run_now(state: TriggerState, run_id: str) -> str:
    """Cancel the run (blocking); its status right after. ``Conflict`` if it ended."""
    store = state.launcher.store
    run = store.get_run(run_id)
    if run.status in FINAL_STATUSES:
        raise Conflict(f"run {run_id} already ended ({run.status})")
    store.request_control(run_id, "cancel")
    state.launcher.invoker.stop(run_id)
    state.launcher.lifecycle.cancel_queued(run_id)
    return store.get_run(run_id).status


def rerun_run(state: TriggerState, run_id: str) -> Run:
    """Record and dispatch a new run of ``run_id``'s event and commit (blocking)."""
    store = state.launcher.store
    first = store.get_run(run_id)
    app = state.app(first.app)
    for n in range(1, _MAX_RERUNS):
        key = f"rerun:{run_id}:{n}"
        if store.find_run(key) is not None:
            continue
        fresh = Run(
            id=new_run_id(),
            app=first.app,
            dedup_key=key,
            event=first.event,
            pipeline=app.pipeline,
            rerun_of=run_id,
        )
        run, created = store.create_run(fresh)
        if not created:  # another rerun took this number first
            continue
        state.launcher.lifecycle.queued([run])
        if hold_if_needed(state.launcher.lifecycle, app, run) is not None:
            return store.get_run(run.id)  # a fork's rerun waits for approval too
        job = state.launcher.job_for(app, run)  # the app's repository, never the event's
        state.launcher.invoker.dispatch(job)
        return run
    raise Conflict(f"run {run_id} was rerun too many times")


_READ = Depends(needs("read"))
_TRIGGER = Depends(needs("trigger"))


@router.get(
    "/api/v1/runs",
    response_model=RunList,
    responses={**ERROR_RESPONSES},
    summary="Runs, newest first, filtered and paged",
)
async def list_runs(
    state: TriggerState = _READ,
    app: str | None = Query(default=None, max_length=200),
    status: _STATUSES | None = None,
    event: _EVENTS | None = None,
    branch: str | None = Query(default=None, max_length=1024),
    limit: int = Query(default=50, ge=1, le=MAX_LIST_LIMIT),
    cursor: str | None = Query(default=None, max_length=1024),
) -> JSONResponse:
    """A page of runs (scope ``read``)."""

    def page() -> RunList:
        runs, next_cursor = state.launcher.store.list_runs(
            app=app or None,
            status=status,
            event=event,
            branch=branch or None,
            limit=limit,
            cursor=cursor or None,
        )
        return RunList(runs=[run_summary(run) for run in runs], next_cursor=next_cursor)

    return JSONResponse((await run_in_threadpool(page)).model_dump(mode="json"))


@router.get(
    "/api/v1/runs/{run_id}",
    response_model=RunDetail,
    responses={**ERROR_RESPONSES},
    summary="A run: its status and its steps",
)
async def get_run(run_id: str, state: TriggerState = _READ) -> JSONResponse:
    """The run and its steps (scope ``read``)."""
    validate_id("run id", run_id)

    def load() -> RunDetail:
        store = state.launcher.store
        run = store.get_run(run_id)
        return run_detail(run, store.list_steps(run_id), prices(state.settings.fc_prices))

    return JSONResponse((await run_in_threadpool(load)).model_dump(mode="json"))


@router.post(
    "/api/v1/runs/{run_id}/cancel",
    status_code=202,
    response_model=CancelAnswer,
    responses={**_CONFLICT, **ERROR_RESPONSES},
    summary="Cancel a run",
)
async def cancel_run(run_id: str, state: TriggerState = _TRIGGER) -> JSONResponse:
    """Record a cancel request and stop the job (scope ``trigger``)."""
    validate_id("run id", run_id)
    status = await run_in_threadpool(cancel_run_now, state, run_id)
    return JSONResponse({"run_id": run_id, "status": status}, status_code=202)


@router.post(
    "/api/v1/runs/{run_id}/rerun",
    status_code=202,
    response_model=RerunAnswer,
    responses={**_CONFLICT, **ERROR_RESPONSES},
    summary="Run a run's commit and event again",
)
async def rerun(run_id: str, state: TriggerState = _TRIGGER) -> JSONResponse:
    """Queue a new run linked to this one (scope ``trigger``)."""
    validate_id("run id", run_id)
    run = await run_in_threadpool(rerun_run, state, run_id)
    answer = RerunAnswer(run_id=run.id, status=run.status, rerun_of=run_id)
    return JSONResponse(answer.model_dump(mode="json"), status_code=202)


def sink_of(request: Request, state: TriggerState) -> LogSink:
    """The log sink the API reads: ``SCD_LOG_SINK`` (``<data_dir>/logs`` by default)."""
    sink: LogSink | None = getattr(request.app.state, "scd_log_sink", None)
    if sink is None:
        from scd_core.sinks import open_sink

        sink = open_sink(state.settings.log_sink)
        request.app.state.scd_log_sink = sink
    return sink


def step_key(
    store: RunStore, sink: LogSink, run_id: str, step: str, task: str = DEFAULT_TASK
) -> str:
    """The id of ``step`` (an id or an index) of task ``task`` of the run; ``NotFound``
    if the run, the task or the step is unknown. Its log is ``log_key(task, id)``
    (for the task ``default``, the id itself)."""
    run = store.get_run(run_id)  # NotFound for an unknown run
    if task != DEFAULT_TASK and all(state.id != task for state in run.tasks):
        raise NotFound(f"run {run_id} has no task {task!r}")
    steps = [s for s in store.list_steps(run_id) if s.task == task]
    if any(s.id == step for s in steps):
        return step
    if step.isdigit():
        for s in steps:
            if s.index == int(step):
                return s.id
    try:
        if log_key(task, step) in sink.steps(run_id):
            return step  # logged before its state was recorded
    except NotFound:
        pass
    raise NotFound(f"run {run_id} has no step {step!r}")
