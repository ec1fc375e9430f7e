"""A step's log over HTTP: pages of text, and live server-sent events.

``GET /api/v1/runs/{id}/steps/{step}/logs`` (scope ``read``): ``{step}`` is a step
id or its index from 0 (``setup`` is the set-up step). As ``text/plain``: at most
``limit`` bytes (default 1 MiB, at most 8 MiB) of the stored log from byte
``offset``, cut back to whole lines, each line's timestamp stripped unless
``timestamps=true``; ``X-Next-Offset`` is the stored offset to read from next
and ``X-Log-Closed: true`` once the log is closed and read to its end. Offsets
count stored (framed) bytes. An offset past the end answers empty with
``X-Next-Offset`` equal to it; a negative one is 400. With ``Accept:
text/event-stream`` the log streams live from ``offset`` (or ``Last-Event-ID``)
as the events of ``sse_events``. A malformed run id or step key (``../``, NUL,
...) is 400, an unknown run or step 404. Logs are read from the sink
``SCD_LOG_SINK`` names (``<data_dir>/logs`` by default, which the local worker
writes) unless ``app.state.scd_log_sink`` holds another sink.

Contract of ``sse_events(sink, store, run_id, step, offset)``: it yields the
encoded events of the log of ``step`` (a log key: a step id, already validated)
of run ``run_id``, from byte ``offset`` of the stored log on:

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
import functools
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_string

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response, StreamingResponse
from scd_core.errors import BadRequest, NotFound
from scd_core.logs import strip_timestamps
from scd_core.logsink import LogChunk, LogSink, check_offset, validate_id
from scd_core.models import FINAL_STATUSES
from scd_core.store import RunStore
from starlette.concurrency import run_in_threadpool

from functions.trigger.errors import ERROR_RESPONSES
from functions.trigger.runs_api import needs, sink_of, step_key
from functions.trigger.state import TriggerState

__all__ = [
    "DEFAULT_LOG_LIMIT",
    "END_WAIT_S",
    "KEEPALIVE_S",
    "MAX_LOG_LIMIT",
    "POLL_S",
    "router",
    "sse_events",
    "sse_line",
]

KEEPALIVE_S = 15.0
POLL_S = 0.1
END_WAIT_S = 5.0
_CHUNK = 256 * 1024
_STATUS_EVERY_S = 1.0
# A framed line's stamp (scd_core.logs: milliseconds, or microseconds in older
# logs) and the one space after it, split into its second and its fraction.
_FRAMED = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3}(?:\d{3})?)Z(?: |\Z)")


def sse_line(line: bytes, end_offset: int) -> bytes:
    """One stored log line (newline optional) as a ``line`` event ending at ``end_offset``."""
    return _event(line.removesuffix(b"\n"), end_offset)


def _event(line: bytes, end_offset: int) -> bytes:
    """The ``line`` event of one stored line without its newline.

    The same bytes ``json.dumps({"t": ..., "text": ...})`` would give, built
    from parts: the timestamp as ``datetime.isoformat`` writes it (``Z`` for
    UTC) or ``null``, the text through json's own C string encoder.
    """
    stamp, text = b"null", line
    framed = _FRAMED.match(line)
    if framed is not None:
        iso = _iso(framed[1], framed[2])
        if iso is not None:
            stamp, text = iso, line[framed.end() :]
    data = _json_string(text.decode("utf-8", "replace")).encode("ascii")
    return b'id: %d\nevent: line\ndata: {"t": %s, "text": %s}\n\n' % (end_offset, stamp, data)


def _iso(second: bytes, fraction: bytes) -> bytes | None:
    """The quoted ISO timestamp of a stamp's parts, or None if they are no date."""
    if not _valid_second(second):
        return None
    if fraction.strip(b"0") == b"":  # isoformat leaves out a zero fraction
        return b'"' + second + b'Z"'
    return b'"' + second + b"." + fraction.ljust(6, b"0") + b'Z"'


@functools.lru_cache(maxsize=256)
def _valid_second(second: bytes) -> bool:
    """Whether ``YYYY-MM-DDTHH:MM:SS`` is a real moment (lines of one second share it)."""
    try:
        datetime.strptime(second.decode("ascii"), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


def _events(chunk: bytes, start: int) -> bytes:
    """Every line of ``chunk`` (read at offset ``start``) as events, in one buffer.

    Lines end at a newline only: a carriage return (a progress bar redrawing
    itself) stays inside its line. A chunk not ending with a newline is a piece of a line
    longer than the read, sent as a line of its own.
    """
    lines = chunk.split(b"\n")
    last = lines.pop()  # b"" when the chunk ends with a newline
    out: list[bytes] = []
    position = start
    event = _event
    for line in lines:
        position += len(line) + 1
        out.append(event(line, position))
    if last:
        out.append(event(last, position + len(last)))
    return b"".join(out)


def _read(sink: LogSink, run_id: str, step: str, offset: int) -> LogChunk | None:
    """The next chunk, or None while the step has no log yet."""
    try:
        return sink.read(run_id, step, offset, _CHUNK)
    except NotFound:
        return None


def _status(store: RunStore, run_id: str, step: str) -> tuple[str | None, str]:
    """The step's recorded status (None if unrecorded) and the run's."""
    run = store.get_run(run_id)
    found = next((s.status for s in store.list_steps(run_id) if s.id == step), None)
    return found, run.status


async def _final_status(store: RunStore, run_id: str, step: str) -> str:
    """The step's status once final, waiting up to ``END_WAIT_S`` for it; the run's
    status if the run ended first (the worker records a step before its run)."""
    deadline = time.monotonic() + END_WAIT_S
    while True:
        status, run_status = await run_in_threadpool(_status, store, run_id, step)
        if status in FINAL_STATUSES:
            return status
        if run_status in FINAL_STATUSES:
            return run_status
        if time.monotonic() >= deadline:
            return status or run_status
        await asyncio.sleep(POLL_S)


async def sse_events(
    sink: LogSink, store: RunStore, run_id: str, step: str, offset: int
) -> AsyncIterator[bytes]:
    """The log of ``step`` from ``offset`` as server-sent events, until it ends."""
    last_sent = last_check = time.monotonic()
    yield b"retry: 2000\n\n"
    while True:
        chunk = await run_in_threadpool(_read, sink, run_id, step, offset)
        if chunk is not None and chunk.data:
            yield _events(chunk.data, offset)
            offset = chunk.offset
            last_sent = time.monotonic()
            continue
        if chunk is not None and chunk.closed:
            status = await _final_status(store, run_id, step)
            yield f"event: end\ndata: {json.dumps({'status': status})}\n\n".encode()
            return
        now = time.monotonic()
        if now - last_check >= _STATUS_EVERY_S:
            last_check = now
            if await _abandoned(sink, store, run_id, step, offset):
                status = await _final_status(store, run_id, step)
                yield f"event: end\ndata: {json.dumps({'status': status})}\n\n".encode()
                return
        if now - last_sent >= KEEPALIVE_S:
            last_sent = now
            yield b": keepalive\n\n"
        await asyncio.sleep(POLL_S)


async def _abandoned(sink: LogSink, store: RunStore, run_id: str, step: str, offset: int) -> bool:
    """Whether nothing more will be written: the step or the run is final and a last
    read still finds nothing new (its log may never have been opened)."""
    status, run_status = await run_in_threadpool(_status, store, run_id, step)
    if status not in FINAL_STATUSES and run_status not in FINAL_STATUSES:
        return False
    chunk = await run_in_threadpool(_read, sink, run_id, step, offset)
    return chunk is None or not chunk.data


router = APIRouter(tags=["runs"])
DEFAULT_LOG_LIMIT = 1 << 20
MAX_LOG_LIMIT = 8 << 20
_READ = Depends(needs("read"))


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


def _page(sink: LogSink, run_id: str, key: str, offset: int, limit: int) -> LogChunk:
    try:
        return sink.read(run_id, key, offset, limit)
    except NotFound:
        return LogChunk(b"", offset, False)  # recorded, nothing logged yet
