"""The first read API: a run, a step's log, and cancelling a run.

Contract (every route checks the bearer token first: 401 missing or invalid,
403 without the scope):

- ``GET /api/v1/runs/{id}`` (scope ``read``) answers ``RunView``: the run's
  status, event name, ref, commit, times, its message (why it ended ``error``,
  say) and its recorded steps in order, the set-up step first. No secret and
  no event payload is in it.
- ``GET /api/v1/runs/{id}/steps/{step}/logs`` (scope ``read``) answers the
  step's log as ``text/plain``, streamed; ``{step}`` is the step's id, or its
  index from 0 (``setup`` is the set-up step). Each line's timestamp is stripped
  unless ``?timestamps=true``. A step recorded but not logged yet answers an
  empty body.
- ``POST /api/v1/runs/{id}/cancel`` (scope ``trigger``) records a cancel request,
  asks the invoker to stop the job and ends a still-queued run ``cancelled``;
  202 ``{"run_id", "status"}`` (the status right after), 409 for a run already
  ended.

A malformed run id or step key is 400, an unknown run or step 404. Logs are
read from ``<data_dir>/logs`` (the file sink the local worker writes).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel
from scd_core.errors import Conflict, NotFound
from scd_core.logs import strip_timestamps
from scd_core.logsink import LogChunk, LogSink, validate_id
from scd_core.models import FINAL_STATUSES, Run, StepState, utcnow
from scd_core.store import RunStore
from starlette.concurrency import run_in_threadpool

from functions.trigger.auth import Scope
from functions.trigger.errors import ERROR_RESPONSES
from functions.trigger.state import TriggerState, state_of

__all__ = ["CancelAnswer", "RunView", "StepView", "cancel_queued", "router", "run_view"]

router = APIRouter()
_CHUNK = 256 * 1024
_CANCELLED_QUEUED = "cancelled before it started"
_ATTEMPTS = 20


class StepView(BaseModel):
    """One step of a run as the API shows it."""

    id: str
    name: str | None
    status: str
    outcome: str | None
    conclusion: str | None
    started_at: datetime | None
    finished_at: datetime | None


class RunView(BaseModel):
    """A run as the API shows it (no secrets, no payload)."""

    id: str
    app: str
    status: str
    event: str
    ref: str | None
    commit: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    message: str | None
    steps: list[StepView]


class CancelAnswer(BaseModel):
    """202: the cancel request was recorded."""

    run_id: str
    status: str


def run_view(run: Run, steps: list[StepState]) -> RunView:
    """The API's view of ``run`` and its ``steps``."""
    return RunView(
        id=run.id,
        app=run.app,
        status=run.status,
        event=run.event.event_name,
        ref=run.event.ref,
        commit=run.event.commit,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        message=run.message,
        steps=[
            StepView(
                id=s.id,
                name=s.name,
                status=s.status,
                outcome=s.outcome,
                conclusion=s.conclusion,
                started_at=s.started_at,
                finished_at=s.finished_at,
            )
            for s in steps
        ],
    )


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


@router.get(
    "/api/v1/runs/{run_id}",
    response_model=RunView,
    responses={**ERROR_RESPONSES},
    summary="A run: its status and its steps",
)
async def get_run(run_id: str, request: Request) -> JSONResponse:
    """The run and its steps (scope ``read``)."""
    state = _authorised(request, "read")
    validate_id("run id", run_id)
    run, steps = await run_in_threadpool(_load, state.launcher.store, run_id)
    return JSONResponse(run_view(run, steps).model_dump(mode="json"))


@router.get(
    "/api/v1/runs/{run_id}/steps/{step}/logs",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/plain": {}}}, **ERROR_RESPONSES},
    summary="A step's log as plain text",
)
async def get_step_log(
    run_id: str, step: str, request: Request, timestamps: bool = False
) -> StreamingResponse:
    """The step's log (scope ``read``); timestamps stripped unless asked for."""
    state = _authorised(request, "read")
    validate_id("run id", run_id)
    validate_id("step", step)
    sink = _sink(request, state)
    key, first = await run_in_threadpool(_first_chunk, state.launcher.store, sink, run_id, step)
    chunks = _chunks(sink, run_id, key, first, keep=timestamps)
    return StreamingResponse(chunks, media_type="text/plain; charset=utf-8")


@router.post(
    "/api/v1/runs/{run_id}/cancel",
    status_code=202,
    response_model=CancelAnswer,
    responses={409: {"description": "the run already ended"}, **ERROR_RESPONSES},
    summary="Cancel a run",
)
async def cancel_run(run_id: str, request: Request) -> JSONResponse:
    """Record a cancel request and stop the job (scope ``trigger``)."""
    state = _authorised(request, "trigger")
    validate_id("run id", run_id)
    status = await run_in_threadpool(_cancel, state, run_id)
    return JSONResponse({"run_id": run_id, "status": status}, status_code=202)


def _authorised(request: Request, scope: Scope) -> TriggerState:
    state = state_of(request)
    state.config.tokens.require(request.headers.get("authorization"), scope)
    return state


def _load(store: RunStore, run_id: str) -> tuple[Run, list[StepState]]:
    run = store.get_run(run_id)
    return run, store.list_steps(run_id)


def _cancel(state: TriggerState, run_id: str) -> str:
    store = state.launcher.store
    run = store.get_run(run_id)
    if run.status in FINAL_STATUSES:
        raise Conflict(f"run {run_id} already ended ({run.status})")
    store.request_control(run_id, "cancel")
    state.launcher.invoker.stop(run_id)
    cancel_queued(store, run_id)
    return store.get_run(run_id).status


def _sink(request: Request, state: TriggerState) -> LogSink:
    sink: LogSink | None = getattr(request.app.state, "scd_log_sink", None)
    if sink is None:
        from scd_core.sinks.file import FileLogSink

        sink = FileLogSink(state.settings.data_dir / "logs")
        request.app.state.scd_log_sink = sink
    return sink


def _step_key(store: RunStore, sink: LogSink, run_id: str, step: str) -> str:
    """The log key of ``step`` (an id or an index) of the run; NotFound if none."""
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


def _first_chunk(store: RunStore, sink: LogSink, run_id: str, step: str) -> tuple[str, LogChunk]:
    key = _step_key(store, sink, run_id, step)
    try:
        return key, sink.read(run_id, key, 0, _CHUNK)
    except NotFound:
        return key, LogChunk(b"", 0, False)  # recorded, nothing logged yet


def _chunks(
    sink: LogSink, run_id: str, key: str, first: LogChunk, *, keep: bool
) -> Iterator[bytes]:
    """The log from the start, chunk by chunk; a sync iterator Starlette runs in a thread."""
    data, offset = first.data, first.offset
    while data:
        yield data if keep else strip_timestamps(data)
        try:
            chunk = sink.read(run_id, key, offset, _CHUNK)
        except NotFound:
            return
        data, offset = chunk.data, chunk.offset
