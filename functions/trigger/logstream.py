"""A step's log over HTTP: pages of text, and live server-sent events.

``GET /api/v1/runs/{id}/steps/{step}/logs`` (scope ``read``): ``{step}`` is a step
id or its index from 0 (``setup`` is the set-up step) of the task ``default`` (a
pipeline of top-level ``steps:``); ``GET /api/v1/runs/{id}/tasks/{task}/steps/{step}/logs``
is the same for a step of task instance ``{task}`` (404 for a task the run has not
recorded, 400 for a task id with a control character or ``/``). As ``text/plain``: at most
``limit`` bytes (default 1 MiB, at most 8 MiB) of the stored log from byte
``offset``, cut back to whole lines, each line's timestamp stripped unless
``timestamps=true``; ``X-Next-Offset`` is the stored offset to read from next
and ``X-Log-Closed: true`` once the log is closed and read to its end. Offsets
count stored (framed) bytes. An offset past the end answers empty with
``X-Next-Offset`` equal to it; a negative one is 400. With ``Accept:
text/event-stream`` the log streams live from ``offset`` (or ``Last-Event-ID``)
as the events of ``sse_events``; a step not recorded yet is waited for (see
``wait_for_step``), so a client may follow a step right after the run's 202.
A malformed run id or step key (``../``, NUL, ...) is 400, an unknown run or
step 404. Logs are read from the sink ``SCD_LOG_SINK`` names (``<data_dir>/logs``
by default, which the local worker writes) unless ``app.state.scd_log_sink``
holds another sink.

Contract of ``sse_events(sink, store, run_id, step, offset, task=...)``: it yields
the encoded events of the log of ``step`` (a step id, already validated) of task
``task`` (default ``default``) of run ``run_id``, from byte ``offset`` of the
stored log (key ``log_key(task, step)``) on:

- one ``event: line`` per stored line, ``id:`` the byte offset just after it (so
  a client reconnecting with ``Last-Event-ID`` resumes after it), ``data:``
  ``{"t": "<ISO timestamp>"|null, "text": "<line without its newline>"}``
  (invalid UTF-8 replaced; ``t`` null for a line that is not framed);
- ``: keepalive`` every ``KEEPALIVE_S`` seconds without a line;
- once the log is closed and read to its end, ``event: end`` with ``data:
  {"status": "<step status>"}``, after waiting up to ``END_WAIT_S`` for the
  step's final status in the store (the worker closes the log just before it
  records the status); the run's status if the run ended while the step did
  not. A step whose log never appears but whose state is final, or a run that
  ended without closing the log, ends the stream too.

Reads go to the sink in a worker thread, a poll every ``POLL_S`` while idle,
so any number of followers may watch one log; each reads on its own.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from scd_core.errors import BadRequest, NotFound
from scd_core.lifecycle_keys import log_key
from scd_core.logs import strip_timestamps
from scd_core.logsink import LogChunk, LogSink, check_offset, validate_id
from scd_core.models import DEFAULT_TASK, FINAL_STATUSES
from scd_core.store import RunStore
from starlette.concurrency import run_in_threadpool

from functions.trigger.errors import ERROR_RESPONSES
from functions.trigger.logevents import sse_chunk, sse_line
from functions.trigger.runs_api import needs, sink_of, step_key
from functions.trigger.state import TriggerState

__all__ = [
    "DEFAULT_LOG_LIMIT",
    "END_WAIT_S",
    "KEEPALIVE_S",
    "MAX_LOG_LIMIT",
    "POLL_S",
    "STEP_WAIT_S",
    "router",
    "sse_events",
    "sse_line",
    "wait_for_step",
]

KEEPALIVE_S = 15.0
POLL_S = 0.1
END_WAIT_S = 5.0
STEP_WAIT_S = 30.0  # under a client's read timeout (the CLI's: 45 s)
_STEP_POLL_S = 0.25
_CHUNK = 256 * 1024
_STATUS_EVERY_S = 1.0
def _read(sink: LogSink, run_id: str, step: str, offset: int) -> LogChunk | None:
    """The next chunk, or None while the step has no log yet."""
    try:
        return sink.read(run_id, step, offset, _CHUNK)
    except NotFound:
        return None


def _status(store: RunStore, run_id: str, task: str, step: str) -> tuple[str | None, str]:
    """The step's recorded status (None if unrecorded) and its task's (else the run's)."""
    run = store.get_run(run_id)
    steps = store.list_steps(run_id)
    found = next((s.status for s in steps if s.id == step and s.task == task), None)
    owner = next((t.status for t in run.tasks if t.id == task), run.status)
    return found, owner


async def _final_status(store: RunStore, run_id: str, task: str, step: str) -> str:
    """The step's status once final, waiting up to ``END_WAIT_S`` for it; the task's
    (or run's) status if that ended first (the worker records a step before its task)."""
    deadline = time.monotonic() + END_WAIT_S
    while True:
        status, run_status = await run_in_threadpool(_status, store, run_id, task, step)
        if status in FINAL_STATUSES:
            return status
        if run_status in FINAL_STATUSES:
            return run_status
        if time.monotonic() >= deadline:
            return status or run_status
        await asyncio.sleep(POLL_S)


async def sse_events(
    sink: LogSink,
    store: RunStore,
    run_id: str,
    step: str,
    offset: int,
    *,
    task: str = DEFAULT_TASK,
) -> AsyncIterator[bytes]:
    """The log of ``step`` of ``task`` from ``offset`` as server-sent events, until it ends."""
    key = log_key(task, step)
    last_sent = last_check = time.monotonic()
    yield b"retry: 2000\n\n"
    while True:
        chunk = await run_in_threadpool(_read, sink, run_id, key, offset)
        if chunk is not None and chunk.data:
            yield sse_chunk(chunk.data, offset)
            offset = chunk.offset
            last_sent = time.monotonic()
            continue
        if chunk is not None and chunk.closed:
            status = await _final_status(store, run_id, task, step)
            yield f"event: end\ndata: {json.dumps({'status': status})}\n\n".encode()
            return
        now = time.monotonic()
        if now - last_check >= _STATUS_EVERY_S:
            last_check = now
            if await _abandoned(sink, store, run_id, task, step, offset):
                status = await _final_status(store, run_id, task, step)
                yield f"event: end\ndata: {json.dumps({'status': status})}\n\n".encode()
                return
        if now - last_sent >= KEEPALIVE_S:
            last_sent = now
            yield b": keepalive\n\n"
        await asyncio.sleep(POLL_S)


async def _abandoned(
    sink: LogSink, store: RunStore, run_id: str, task: str, step: str, offset: int
) -> bool:
    """Whether nothing more will be written: the step or its task is final and a last
    read still finds nothing new (its log may never have been opened)."""
    status, run_status = await run_in_threadpool(_status, store, run_id, task, step)
    if status not in FINAL_STATUSES and run_status not in FINAL_STATUSES:
        return False
    chunk = await run_in_threadpool(_read, sink, run_id, log_key(task, step), offset)
    return chunk is None or not chunk.data


async def wait_for_step(
    store: RunStore,
    sink: LogSink,
    run_id: str,
    step: str,
    wait_s: float = STEP_WAIT_S,
    *,
    task: str = DEFAULT_TASK,
) -> str:
    """The id of ``step`` of ``task`` (``runs_api.step_key``), waiting for a step not
    recorded yet.

    ``NotFound`` at once for an unknown run; for a step still unknown once the run is
    final (it will never start) or after ``wait_s`` seconds. Polls the store every
    ``_STEP_POLL_S`` from a worker thread, so waiting costs the event loop nothing.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return await run_in_threadpool(step_key, store, sink, run_id, step, task)
        except NotFound:
            run = await run_in_threadpool(store.get_run, run_id)  # NotFound: no such run
            if run.status in FINAL_STATUSES or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(_STEP_POLL_S)


router = APIRouter(tags=["runs"])
DEFAULT_LOG_LIMIT = 1 << 20
MAX_LOG_LIMIT = 8 << 20
_READ = Depends(needs("read"))
_MAX_TASK_ID = 60


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


_LOG_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the log as text, or live as server-sent events",
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "text/event-stream": {"schema": {"type": "string"}},
        },
        "headers": _LOG_HEADERS,
    },
    **ERROR_RESPONSES,
}


@router.get(
    "/api/v1/runs/{run_id}/steps/{step}/logs",
    response_class=Response,
    responses=_LOG_RESPONSES,
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
    """The step's log from ``offset``, of the task ``default`` (scope ``read``)."""
    read = _LogRead(offset, limit, timestamps, accept, last_event_id)
    return await _step_log(request, state, run_id, DEFAULT_TASK, step, read)


@router.get(
    "/api/v1/runs/{run_id}/tasks/{task}/steps/{step}/logs",
    response_class=Response,
    responses=_LOG_RESPONSES,
    summary="A step's log of one task: a page of text, or live server-sent events",
)
async def get_task_step_log(
    run_id: str,
    task: str,
    step: str,
    request: Request,
    state: TriggerState = _READ,
    offset: int = Query(default=0, ge=0),
    limit: int = Query(default=DEFAULT_LOG_LIMIT, ge=1, le=MAX_LOG_LIMIT),
    timestamps: bool = False,
    accept: str | None = Header(default=None, include_in_schema=False),
    last_event_id: str | None = Header(default=None, include_in_schema=False),
) -> Response:
    """The log of a step of task instance ``task`` from ``offset`` (scope ``read``)."""
    read = _LogRead(offset, limit, timestamps, accept, last_event_id)
    return await _step_log(request, state, run_id, _task_id(task), step, read)


@dataclass(frozen=True)
class _LogRead:
    """The query and headers of a log request."""

    offset: int
    limit: int
    timestamps: bool
    accept: str | None
    last_event_id: str | None


async def _step_log(
    request: Request, state: TriggerState, run_id: str, task: str, step: str, read: _LogRead
) -> Response:
    validate_id("run id", run_id)
    validate_id("step", step)
    offset = read.offset
    if read.last_event_id is not None and read.last_event_id.strip():
        offset = _event_offset(read.last_event_id)
    check_offset(offset, read.limit)
    sink = sink_of(request, state)
    store = state.launcher.store
    if read.accept is not None and "text/event-stream" in read.accept.lower():
        step_id = await wait_for_step(store, sink, run_id, step, task=task)
        events = sse_events(sink, store, run_id, step_id, offset, task=task)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    step_id = await run_in_threadpool(step_key, store, sink, run_id, step, task)
    key = log_key(task, step_id)
    chunk = await run_in_threadpool(_page, sink, run_id, key, offset, read.limit)
    body = chunk.data if read.timestamps else strip_timestamps(chunk.data)
    headers = {
        "X-Next-Offset": str(chunk.offset),
        "X-Log-Closed": "true" if chunk.closed else "false",
    }
    return Response(body, media_type="text/plain; charset=utf-8", headers=headers)


def _task_id(value: str) -> str:
    """``value`` if it can be a task instance id: 1..60 characters, no control
    character and no ``/`` (its log keys must stay valid); else ``BadRequest``."""
    if not 0 < len(value) <= _MAX_TASK_ID or any(c < " " or c in "/\x7f" for c in value):
        raise BadRequest(f"invalid task: {value!r:.60}")
    return value


def _event_offset(value: str) -> int:
    try:
        offset = int(value.strip())
    except ValueError:
        raise BadRequest("Last-Event-ID must be a byte offset") from None
    return offset


def _page(sink: LogSink, run_id: str, key: str, offset: int, limit: int) -> LogChunk:
    try:
        return sink.read(run_id, key, offset, limit)
    except NotFound:
        return LogChunk(b"", offset, False)  # recorded, nothing logged yet
