"""An in-process LogSink for tests: thread-safe, followers wake as soon as data arrives."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from scd_core.errors import BadRequest, Conflict, NotFound
from scd_core.logsink import (
    LogChunk,
    check_offset,
    follow_log,
    trim_chunk,
    validate_id,
)

__all__ = ["MemoryLogSink"]


class MemoryLogSink:
    """LogSink kept in memory; contents vanish with the object."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._logs: dict[tuple[str, str], bytearray] = {}
        self._closed: set[tuple[str, str]] = set()
        self._steps: dict[str, list[str]] = {}

    def _key(self, run_id: str, step: str) -> tuple[str, str]:
        return validate_id("run id", run_id), validate_id("step key", step)

    def _create(self, key: tuple[str, str]) -> bytearray:
        log = self._logs.get(key)
        if log is None:
            log = self._logs[key] = bytearray()
            self._steps.setdefault(key[0], []).append(key[1])
        return log

    def append(self, run_id: str, step: str, data: bytes) -> None:
        """Append complete framed lines; Conflict once closed."""
        key = self._key(run_id, step)
        if data and not data.endswith(b"\n"):
            raise BadRequest("a log append must end with a newline")
        with self._changed:
            if key in self._closed:
                raise Conflict(f"log of step {step!r} of run {run_id!r} is closed")
            self._create(key).extend(data)
            self._changed.notify_all()

    def close(self, run_id: str, step: str) -> None:
        """Close the step's log (creating an empty one if needed); idempotent."""
        key = self._key(run_id, step)
        with self._changed:
            self._create(key)
            self._closed.add(key)
            self._changed.notify_all()

    def read(self, run_id: str, step: str, offset: int = 0, limit: int = 1 << 20) -> LogChunk:
        """Up to ``limit`` bytes from ``offset``, cut back to whole lines."""
        key = self._key(run_id, step)
        check_offset(offset, limit)
        with self._changed:
            log = self._logs.get(key)
            if log is None:
                raise NotFound(f"no log for step {step!r} of run {run_id!r}")
            data = trim_chunk(bytes(log[offset : offset + limit]), limit)
            end = offset + len(data)
            return LogChunk(data=data, offset=end, closed=key in self._closed and end >= len(log))

    def _wait(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def follow(
        self,
        run_id: str,
        step: str,
        offset: int = 0,
        *,
        poll_interval: float = 0.05,
        stop: threading.Event | None = None,
    ) -> Iterator[bytes]:
        """Yield new data as it is appended, until closed or ``stop`` is set."""
        return follow_log(self, run_id, step, offset, self._wait, poll_interval, stop)

    def steps(self, run_id: str) -> list[str]:
        """Step keys with a log, in creation order; [] for an unknown run."""
        validate_id("run id", run_id)
        with self._changed:
            return list(self._steps.get(run_id, ()))
