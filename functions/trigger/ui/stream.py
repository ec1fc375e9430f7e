"""Server-sent events of a step's log, for the dashboard.

Contract: ``sse_events(sink, store, run_id, step, offset)`` yields the log of
``step`` (a log key) from byte ``offset`` as SSE bytes, one event per line:
``id: <offset after the line>``, ``event: line``, ``data: {"t", "text"}``; a
``: keepalive`` comment after 15 s of silence; and, once the log is closed and
read to its end, ``event: end`` with ``data: {"status"}`` (the step's status,
waited for up to a few seconds to be final in the store). A step with no log
yet is waited for. Same contract as the API's ``functions.trigger.logstream``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from scd_core.errors import BadRequest, NotFound
from scd_core.logs import parse_line
from scd_core.logsink import LogChunk, LogSink
from scd_core.models import FINAL_STATUSES
from scd_core.store import RunStore
from starlette.concurrency import run_in_threadpool

__all__ = ["sse_events"]

_CHUNK = 64 * 1024
_POLL_S = 0.1
_KEEPALIVE_S = 15.0
_STATUS_WAIT_S = 5.0
_ORPHAN_S = 3.0


def _read(sink: LogSink, run_id: str, step: str, offset: int) -> LogChunk:
    try:
        return sink.read(run_id, step, offset, _CHUNK)
    except NotFound:
        return LogChunk(b"", offset, False)  # not logged yet: wait for it


def _events(data: bytes, offset: int) -> tuple[bytes, int]:
    out: list[bytes] = []
    # split on "\n" only: a "\r" (a progress bar, say) stays inside its line
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    for line in lines:
        offset += len(line)
        try:
            moment, text = parse_line(line)
            stamp = moment.isoformat().replace("+00:00", "Z")
        except BadRequest:
            stamp, text = "", line.rstrip(b"\n")
        body = json.dumps({"t": stamp, "text": text.decode("utf-8", "replace")})
        out.append(f"id: {offset}\nevent: line\ndata: {body}\n\n".encode())
    return b"".join(out), offset


def _final_status(store: RunStore, run_id: str, step: str) -> str:
    deadline = time.monotonic() + _STATUS_WAIT_S
    status = "unknown"
    while True:
        for state in store.list_steps(run_id):
            if state.id == step:
                status = state.status
        if status in FINAL_STATUSES or time.monotonic() > deadline:
            return status
        time.sleep(_POLL_S)


def _ended_unclosed(store: RunStore, run_id: str, step: str) -> bool:
    return any(s.id == step and s.status in FINAL_STATUSES for s in store.list_steps(run_id))


def _end(status: str) -> bytes:
    return f"event: end\ndata: {json.dumps({'status': status})}\n\n".encode()


async def sse_events(
    sink: LogSink, store: RunStore, run_id: str, step: str, offset: int
) -> AsyncIterator[bytes]:
    """The step's log from ``offset`` as server-sent events, ending once it is closed."""
    quiet_since = checked = time.monotonic()
    while True:
        chunk = await run_in_threadpool(_read, sink, run_id, step, offset)
        if chunk.data:
            events, offset = _events(chunk.data, offset)
            quiet_since = time.monotonic()
            yield events
            continue
        if chunk.closed:
            yield _end(await run_in_threadpool(_final_status, store, run_id, step))
            return
        now = time.monotonic()
        if now - quiet_since >= _ORPHAN_S and now - checked >= _ORPHAN_S:
            checked = now
            # A step that ended with its log never closed (its worker was lost) would be
            # followed forever: end once the store says it is final and nothing came since.
            if await run_in_threadpool(_ended_unclosed, store, run_id, step):
                chunk = await run_in_threadpool(_read, sink, run_id, step, offset)
                if not chunk.data:
                    yield _end(await run_in_threadpool(_final_status, store, run_id, step))
                    return
                continue
        if now - quiet_since >= _KEEPALIVE_S:
            quiet_since = now
            yield b": keepalive\n\n"
        await asyncio.sleep(_POLL_S)
