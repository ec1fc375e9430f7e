"""``/api/v1/runs``: list runs, one run with its steps, cancel, rerun, and step logs.

Contract (every route checks the bearer token first: 401 missing, invalid or
revoked, 403 without the scope):

- ``GET /api/v1/runs`` (``read``) → ``RunList``: newest first, filtered by
  ``app``, ``status``, ``event`` and ``branch``, ``limit`` (1..1000, default 50)
  per page; ``next_cursor`` is passed back as ``cursor`` for the next page
  (an empty ``app``, ``branch`` or ``cursor`` is the same as none).
- ``GET /api/v1/runs/{id}`` (``read``) → ``RunDetail``: the run and its recorded
  steps in order, the set-up step first. No secret and no event payload.
- ``POST /api/v1/runs/{id}/cancel`` (``trigger``) records a cancel request, asks
  the invoker to stop the job and ends a still-queued run ``cancelled``; 202
  ``CancelAnswer`` (the status right after), 409 for a run already ended.
- ``POST /api/v1/runs/{id}/rerun`` (``trigger``) records a new run of the same
  app, event and commit with ``rerun_of = id`` and dedup key ``rerun:<id>:<n>``
  (the first free n from 1), dispatches it like any run, and answers 202
  ``RerunAnswer``; 404 if the app is gone.
- ``GET /api/v1/runs/{id}/steps/{step}/logs`` (``read``): ``{step}`` is a step id
  or its index from 0 (``setup`` is the set-up step). As ``text/plain``: at most
  ``limit`` bytes (default 1 MiB, at most 8 MiB) of the stored log from byte
  ``offset``, cut back to whole lines, with each line's timestamp stripped unless
  ``timestamps=true``; ``X-Next-Offset`` is the stored offset to read from next
  and ``X-Log-Closed: true`` once the log is closed and read to its end. Offsets
  count stored (framed) bytes. An offset past the end answers empty with
  ``X-Next-Offset`` equal to it; a negative one is 400. With ``Accept:
  text/event-stream`` the log streams live from ``offset`` (or ``Last-Event-ID``)
  as server-sent events (``functions.trigger.logstream``).

A malformed run id or step key (``../``, NUL, ...) is 400, an unknown run or
step 404. Logs are read from ``<data_dir>/logs`` (the file sink the local worker
writes) unless ``app.state.scd_log_sink`` holds another sink.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Security
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPBearer
from scd_core.errors import BadRequest, Conflict, NotFound
from scd_core.logs import strip_timestamps
from scd_core.logsink import LogChunk, LogSink, check_offset, validate_id
from scd_core.models import FINAL_STATUSES, Job, Run, utcnow
from scd_core.store import MAX_LIST_LIMIT, RunStore
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as AsgiScope

from functions.trigger.auth import Scope
from functions.trigger.errors import ERROR_RESPONSES, ErrorBody
from functions.trigger.launcher import new_run_id
from functions.trigger.logstream import sse_events
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
    "cancel_queued",
    "cancel_run_now",
    "needs",
    "rerun_run",
    "router",
    "sink_of",
    "step_key",
]

router = APIRouter(tags=["runs"])
DEFAULT_LOG_LIMIT = 1 << 20
MAX_LOG_LIMIT = 8 << 20
_CANCELLED_QUEUED = "cancelled before it started"
_ATTEMPTS = 20
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
        header = request.headers.get("authorization")
        await run_in_threadpool(state.config.tokens.require, header, scope)
        return state

    return check


def cancel_queued(store: RunStore, run_id: str) -> bool:
    """End the run ``cancelled`` if it is still ``queued``; whether this call ended it.

    Conditional on the run's version, so a worker claiming the run at the same
    moment either wins (the run is running and gets the cancel request) or loses.
    """
    for _ in range(_ATTEMPTS):
        run = store.get_run(run_id)
        if run.status != "queued":
            return False
        run.status = "cancelled"
        run.finished_at = utcnow()
        run.message = _CANCELLED_QUEUED
        try:
            store.update_run(run)
        except Conflict:
            continue
        return True
    raise Conflict(f"run {run_id}: gave up after {_ATTEMPTS} conflicting updates")


def cancel_run_now(state: TriggerState, run_id: str) -> str:
    """Cancel the run (blocking); its status right after. ``Conflict`` if it ended."""
    store = state.launcher.store
    run = store.get_run(run_id)
    if run.status in FINAL_STATUSES:
        raise Conflict(f"run {run_id} already ended ({run.status})")
    store.request_control(run_id, "cancel")
    state.launcher.invoker.stop(run_id)
    cancel_queued(store, run_id)
    return store.get_run(run_id).status


def rerun_run(state: TriggerState, run_id: str) -> Run:
    """Record and dispatch a new run of ``run_id``'s event and commit (blocking)."""
    from functions.trigger.apps_api import find_app

    store = state.launcher.store
    first = store.get_run(run_id)
    app, _ = find_app(state, first.app)
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
        event = run.event
        # the Job as Launcher builds it (Launcher cannot set rerun_of on a run)
        job = Job(
            id=run.id,
            app=run.app,
            event=event,
            clone_url=event.clone_url or app.repo,
            ref=event.ref,
            commit=event.commit,
            pipeline=run.pipeline,
        )
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
        return run_detail(run, store.list_steps(run_id))

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


_LOG_HEADERS = {
    "X-Next-Offset": {
        "description": "the stored byte offset to read from next",
        "schema": {"type": "integer"},
    },
    "X-Log-Closed": {
        "description": "whether the log is closed and read to its end",
        "schema": {"type": "string", "enum": ["true", "false"]},
    },
}


@router.get(
    "/api/v1/runs/{run_id}/steps/{step}/logs",
    response_class=Response,
    responses={
        200: {
            "description": "the log as text, or live as server-sent events",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "text/event-stream": {"schema": {"type": "string"}},
            },
            "headers": _LOG_HEADERS,
        },
        **ERROR_RESPONSES,
    },
    summary="A step's log: a page of text, or live server-sent events",
)
async def get_step_log(
    run_id: str,
    step: str,
    request: Request,
    state: TriggerState = _READ,
    offset: int = Query(default=0, ge=0),
    limit: int = Query(default=DEFAULT_LOG_LIMIT, ge=1, le=MAX_LOG_LIMIT),
    timestamps: bool = False,
    accept: str | None = Header(default=None, include_in_schema=False),
    last_event_id: str | None = Header(default=None, include_in_schema=False),
) -> Response:
    """The step's log from ``offset`` (scope ``read``)."""
    validate_id("run id", run_id)
    validate_id("step", step)
    if last_event_id is not None and last_event_id.strip():
        offset = _event_offset(last_event_id)
    check_offset(offset, limit)
    sink = sink_of(request, state)
    store = state.launcher.store
    key = await run_in_threadpool(step_key, store, sink, run_id, step)
    if accept is not None and "text/event-stream" in accept.lower():
        events = sse_events(sink, store, run_id, key, offset)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    chunk = await run_in_threadpool(_page, sink, run_id, key, offset, limit)
    body = chunk.data if timestamps else strip_timestamps(chunk.data)
    headers = {
        "X-Next-Offset": str(chunk.offset),
        "X-Log-Closed": "true" if chunk.closed else "false",
    }
    return Response(body, media_type="text/plain; charset=utf-8", headers=headers)


def _event_offset(value: str) -> int:
    try:
        offset = int(value.strip())
    except ValueError:
        raise BadRequest("Last-Event-ID must be a byte offset") from None
    return offset


def sink_of(request: Request, state: TriggerState) -> LogSink:
    """The log sink the API reads (the file sink under ``data_dir/logs`` by default)."""
    sink: LogSink | None = getattr(request.app.state, "scd_log_sink", None)
    if sink is None:
        from scd_core.sinks.file import FileLogSink

        sink = FileLogSink(state.settings.data_dir / "logs")
        request.app.state.scd_log_sink = sink
    return sink


def step_key(store: RunStore, sink: LogSink, run_id: str, step: str) -> str:
    """The log key of ``step`` (an id or an index) of the run; ``NotFound`` if none."""
    store.get_run(run_id)  # NotFound for an unknown run
    steps = store.list_steps(run_id)
    if any(s.id == step for s in steps):
        return step
    if step.isdigit():
        for s in steps:
            if s.index == int(step):
                return s.id
    try:
        if step in sink.steps(run_id):
            return step  # logged before its state was recorded
    except NotFound:
        pass
    raise NotFound(f"run {run_id} has no step {step!r}")


def _page(sink: LogSink, run_id: str, key: str, offset: int, limit: int) -> LogChunk:
    try:
        return sink.read(run_id, key, offset, limit)
    except NotFound:
        return LogChunk(b"", offset, False)  # recorded, nothing logged yet
