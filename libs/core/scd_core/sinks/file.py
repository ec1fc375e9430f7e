"""A LogSink on a directory: a local disk or a NAS mount shared by many machines.

Layout: ``<root>/<run_id>/<step>.log`` holds the framed lines, appended with
``O_APPEND`` and one ``os.write`` per ``append`` (so no lock is needed; a reader
that catches a write in flight cuts it back to whole lines); ``<step>.closed``
marks a closed log; ``<root>/<run_id>/steps`` lists the step keys in creation
order, one a line.

Cost per step, as a pipeline of many short steps shows: one ``open`` creates the
log (the run directory is made only when that fails), the index line goes
through a descriptor kept open per run, and the marker is one ``open``.

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
from scd_core.logsink import (
    LogChunk,
    check_offset,
    follow_log,
    trim_chunk,
    validate_id,
)

__all__ = ["FileLogSink"]

_MAX_OPEN = 64  # cached append descriptors; the least recently used is closed past this
_MAX_INDEXES = 8  # cached descriptors of runs' step indexes, likewise
_INDEX = "steps"
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class FileLogSink:
    """LogSink on ``root``; see the module docstring for the layout."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._root = str(self.root)
        self._lock = threading.Lock()
        self._fds: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._index_fds: OrderedDict[str, int] = OrderedDict()

    # -- paths ---------------------------------------------------------------

    def _paths(self, run_id: str, step: str) -> tuple[str, str]:
        """The step's log and marker paths (plain strings: the writers' hot path)."""
        validate_id("run id", run_id)
        validate_id("step key", step)
        stem = f"{self._root}{os.sep}{run_id}{os.sep}{step}"
        return f"{stem}.log", f"{stem}.closed"

    # -- writing ---------------------------------------------------------------

    def _open(self, run_id: str, step: str, log: str, marker: str) -> int:
        """Open (and cache) the step's log for appending, creating it and its index line.

        Conflict when the step's log is closed. A new log costs one ``open``: the
        run directory is made only when that fails, and a log created here cannot
        have a marker yet (close creates the log before the marker).
        """
        flags = os.O_WRONLY | os.O_APPEND | _CLOEXEC
        try:
            fd = self._create(run_id, log, flags | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            if os.path.exists(marker):
                raise Conflict(f"log of step {step!r} of run {run_id!r} is closed") from None
            fd = os.open(log, flags)
        else:
            try:
                self._index(run_id, os.path.dirname(log), step)
            except OSError:
                os.close(fd)
                raise
        self._fds[run_id, step] = fd
        if len(self._fds) > _MAX_OPEN:
            os.close(self._fds.popitem(last=False)[1])
        return fd

    def _create(self, run_id: str, log: str, flags: int) -> int:
        try:
            return os.open(log, flags, 0o644)
        except FileNotFoundError:
            # A new (or removed) run directory: a cached index descriptor would be stale.
            stale = self._index_fds.pop(run_id, None)
            if stale is not None:
                os.close(stale)
            os.makedirs(os.path.dirname(log), exist_ok=True)
            return os.open(log, flags, 0o644)

    def _index(self, run_id: str, run_dir: str, step: str) -> None:
        """Append ``step`` to the run's index through a cached ``O_APPEND`` descriptor."""
        fd = self._index_fds.get(run_id)
        if fd is None:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _CLOEXEC
            fd = self._index_fds[run_id] = os.open(os.path.join(run_dir, _INDEX), flags, 0o644)
            if len(self._index_fds) > _MAX_INDEXES:
                os.close(self._index_fds.popitem(last=False)[1])
        else:
            self._index_fds.move_to_end(run_id)
        os.write(fd, f"{step}\n".encode())

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
                    try:
                        self._open(run_id, step, log, marker)
                    except Conflict:
                        return  # closed already
                    fd = self._fds.pop((run_id, step))
                # No fsync: closing the descriptor before creating the marker is enough for
                # readers here and, by close-to-open consistency, on an NFS mount.
                os.close(fd)
                os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | _CLOEXEC, 0o644))
            except OSError as exc:
                raise BackendError(f"cannot close the log of step {step!r}") from exc

    # -- reading ---------------------------------------------------------------

    def read(self, run_id: str, step: str, offset: int = 0, limit: int = 1 << 20) -> LogChunk:
        """Up to ``limit`` bytes from ``offset``, cut back to whole lines."""
        log, marker = self._paths(run_id, step)
        check_offset(offset, limit)
        # The marker is checked before the data: once seen, every byte is already there.
        closed = os.path.exists(marker)
        try:
            fd = os.open(log, os.O_RDONLY | _CLOEXEC)
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
        wait = stop.wait if stop is not None else time.sleep
        return follow_log(self, run_id, step, offset, wait, poll_interval, stop)

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
