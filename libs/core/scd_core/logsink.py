"""The LogSink Protocol: where the framed log lines of every step go.

Backends live in :mod:`scd_core.sinks` (``file``, ``memory``, ``oss``, ``sls``).
Each must pass the shared conformance suite in ``tests/core/test_logsink.py``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from scd_core.errors import BadRequest

__all__ = [
    "MAX_ID",
    "LogChunk",
    "LogSink",
    "check_offset",
    "follow_log",
    "poll_chunks",
    "trim_chunk",
    "validate_id",
]

MAX_ID = 200
_ID = re.compile(r"[A-Za-z0-9._-]+")


def validate_id(kind: str, value: str) -> str:
    """Return ``value`` if it is a safe run id or step key, else raise BadRequest.

    Safe: 1 to 200 characters from ``[A-Za-z0-9._-]``, no ``..``, not only dots.
    Backends call this before touching a filesystem or building an object key.
    """
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_ID
        or _ID.fullmatch(value) is None
        or ".." in value
        or value.strip(".") == ""
    ):
        raise BadRequest(f"invalid {kind}: {value!r:.60}")
    return value


def check_offset(offset: int, limit: int) -> None:
    """Raise BadRequest for a negative offset or a limit below 1."""
    if offset < 0:
        raise BadRequest(f"negative log offset: {offset}")
    if limit < 1:
        raise BadRequest(f"log read limit must be positive: {limit}")


def trim_chunk(data: bytes, limit: int) -> bytes:
    """Cut ``data`` (read with ``limit``) back to its last complete line.

    A line longer than ``limit`` is returned in pieces rather than never; data
    shorter than ``limit`` without a newline is a write still in flight, and
    yields nothing yet.
    """
    if not data or data.endswith(b"\n"):
        return data
    end = data.rfind(b"\n")
    if end >= 0:
        return data[: end + 1]
    return data if len(data) >= limit else b""


def poll_chunks(
    read: Callable[[int], LogChunk],
    offset: int,
    wait: Callable[[float], object],
    poll_interval: float,
    stop: threading.Event | None,
) -> Iterator[bytes]:
    """The loop behind ``follow``: read from ``offset``, yield data, wait when idle.

    ``read(offset)`` returns the next chunk; ``wait(seconds)`` sleeps that long at
    most (``stop.wait`` for the file backend, so setting ``stop`` wakes it; a
    backend with notifications also wakes it when data arrives). Ends when a
    chunk says the log is closed or ``stop`` is set.
    """
    while stop is None or not stop.is_set():
        chunk = read(offset)
        if chunk.data:
            offset = chunk.offset
            yield chunk.data
        if chunk.closed:
            return
        if not chunk.data:
            wait(poll_interval)


def follow_log(
    sink: LogSink,
    run_id: str,
    step: str,
    offset: int,
    wait: Callable[[float], object],
    poll_interval: float,
    stop: threading.Event | None,
) -> Iterator[bytes]:
    """``sink.follow`` built on its ``read``: checks the offset, the ids and that the log
    exists now (``BadRequest``/``NotFound`` at the call, not at the first ``next``), then
    returns the ``poll_chunks`` iterator waiting with ``wait``."""
    check_offset(offset, 1)
    sink.read(run_id, step, offset, 1)
    return poll_chunks(lambda at: sink.read(run_id, step, at), offset, wait, poll_interval, stop)


@dataclass(frozen=True)
class LogChunk:
    """One read of a step's log.

    ``data`` holds raw stored bytes (whole framed lines, except for a single line
    longer than the read limit); ``offset`` is the offset just after ``data``, to
    pass to the next read; ``closed`` is True when the log is closed and no data
    exists at or after ``offset``.
    """

    data: bytes
    offset: int
    closed: bool


class LogSink(Protocol):
    """Stores the framed log lines of each step of each run.

    Call order, per ``(run_id, step)``: ``append`` any number of times, then
    ``close``. The first ``append`` or ``close`` creates the step's log.

    Idempotency: ``close`` twice is fine; ``append`` after ``close`` raises
    :class:`~scd_core.errors.Conflict`.

    Concurrency: one writer per ``(run_id, step)`` (different steps may be written
    concurrently); any number of readers and followers, which for the file backend
    may live in other processes or on other machines sharing the directory.

    Errors: run ids and step keys are checked by :func:`validate_id` before any
    storage access (BadRequest); a negative offset raises BadRequest; reading an
    unknown run or step raises NotFound; reading past the end returns empty data
    at the given offset. A storage failure raises BackendError with its cause chained.
    """

    def append(self, run_id: str, step: str, data: bytes) -> None:
        """Append complete framed lines (``data`` ends with a newline, or is empty)."""
        ...

    def close(self, run_id: str, step: str) -> None:
        """Mark the step's log complete; idempotent."""
        ...

    def read(self, run_id: str, step: str, offset: int = 0, limit: int = 1 << 20) -> LogChunk:
        """Up to ``limit`` bytes from ``offset``, cut back to whole lines."""
        ...

    def follow(
        self,
        run_id: str,
        step: str,
        offset: int = 0,
        *,
        poll_interval: float = 0.05,
        stop: threading.Event | None = None,
    ) -> Iterator[bytes]:
        """Yield data from ``offset`` as it is appended, until the log is closed or ``stop`` is set.

        Checks the ids and that the log exists when called (not at the first ``next``).
        """
        ...

    def steps(self, run_id: str) -> list[str]:
        """The step keys of ``run_id`` with a log, in creation order ([] for an unknown run)."""
        ...
