"""A LogSink on a directory: a local disk or a NAS mount shared by many machines.

Layout: ``<root>/<run_id>/<step>.log`` holds the framed lines, appended with
``O_APPEND`` and one ``os.write`` per ``append`` (so no lock is needed; a reader
that catches a write in flight cuts it back to whole lines); ``<step>.closed``
marks a closed log; ``<root>/<run_id>/steps`` lists the step keys in creation
order, one a line.

A follower in any process polls the file (``poll_interval``, 50 ms by default),
so a line shows up well under half a second after it was appended.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from scd_core.errors import BackendError, BadRequest, Conflict, NotFound
from scd_core.logsink import LogChunk, check_offset, poll_chunks, trim_chunk, validate_id

__all__ = ["FileLogSink"]

_MAX_OPEN = 64  # cached append descriptors; the least recently used is closed past this
_INDEX = "steps"


class FileLogSink:
    """LogSink on ``root``; see the module docstring for the layout."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._fds: OrderedDict[tuple[str, str], int] = OrderedDict()

    # -- paths ---------------------------------------------------------------

    def _paths(self, run_id: str, step: str) -> tuple[Path, Path]:
        validate_id("run id", run_id)
        validate_id("step key", step)
        run_dir = self.root / run_id
        return run_dir / f"{step}.log", run_dir / f"{step}.closed"

    # -- writing ---------------------------------------------------------------

    def _open(self, run_id: str, step: str, log: Path, marker: Path) -> int:
        """Open (and cache) the step's log for appending, creating it and its index line."""
        if marker.exists():
            raise Conflict(f"log of step {step!r} of run {run_id!r} is closed")
        log.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(log, flags | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            fd = os.open(log, flags)
        else:
            self._index(log.parent, step)
        self._fds[run_id, step] = fd
        if len(self._fds) > _MAX_OPEN:
            os.close(self._fds.popitem(last=False)[1])
        return fd

    @staticmethod
    def _index(run_dir: Path, step: str) -> None:
        fd = os.open(run_dir / _INDEX, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{step}\n".encode())
        finally:
            os.close(fd)

    def append(self, run_id: str, step: str, data: bytes) -> None:
        """Append complete framed lines with one ``os.write``; Conflict once closed."""
        validate_id("run id", run_id)
        validate_id("step key", step)
        if data and not data.endswith(b"\n"):
            raise BadRequest("a log append must end with a newline")
        with self._lock:
            try:
                fd = self._fds.get((run_id, step))
                if fd is None:
                    fd = self._open(run_id, step, *self._paths(run_id, step))
                else:
                    self._fds.move_to_end((run_id, step))
                view = memoryview(data)
                while view:  # a regular file writes everything at once; loop for safety
                    view = view[os.write(fd, view) :]
            except OSError as exc:
                raise BackendError(f"cannot append to the log of step {step!r}") from exc

    def close(self, run_id: str, step: str) -> None:
        """Close the step's log (creating an empty one if needed); idempotent."""
        log, marker = self._paths(run_id, step)
        with self._lock:
            try:
                fd = self._fds.pop((run_id, step), None)
                if fd is None:
                    if marker.exists():
                        return
                    self._open(run_id, step, log, marker)
                    fd = self._fds.pop((run_id, step))
                # No fsync: closing the descriptor before creating the marker is enough for
                # readers here and, by close-to-open consistency, on an NFS mount.
                os.close(fd)
                marker.touch()
            except OSError as exc:
                raise BackendError(f"cannot close the log of step {step!r}") from exc

    # -- reading ---------------------------------------------------------------

    def read(self, run_id: str, step: str, offset: int = 0, limit: int = 1 << 20) -> LogChunk:
        """Up to ``limit`` bytes from ``offset``, cut back to whole lines."""
        log, marker = self._paths(run_id, step)
        check_offset(offset, limit)
        # The marker is checked before the data: once seen, every byte is already there.
        closed = marker.exists()
        try:
            fd = os.open(log, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise NotFound(f"no log for step {step!r} of run {run_id!r}") from None
        except OSError as exc:
            raise BackendError(f"cannot read the log of step {step!r}") from exc
        try:
            size = os.fstat(fd).st_size
            data = os.pread(fd, min(limit, size - offset), offset) if offset < size else b""
        except OSError as exc:
            raise BackendError(f"cannot read the log of step {step!r}") from exc
        finally:
            os.close(fd)
        data = trim_chunk(data, limit)
        end = offset + len(data)
        return LogChunk(data=data, offset=end, closed=closed and end >= size)

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
        check_offset(offset, 1)
        self.read(run_id, step, offset, 1)  # ids and existence are checked now, not lazily
        wait = stop.wait if stop is not None else time.sleep
        return poll_chunks(
            lambda at: self.read(run_id, step, at), offset, wait, poll_interval, stop
        )

    def steps(self, run_id: str) -> list[str]:
        """Step keys with a log, in creation order; [] for an unknown run."""
        validate_id("run id", run_id)
        try:
            text = (self.root / run_id / _INDEX).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise BackendError(f"cannot list the logs of run {run_id!r}") from exc
        seen: dict[str, None] = {}
        for line in text.splitlines():
            if line and line not in seen:
                seen[line] = None
        return list(seen)
