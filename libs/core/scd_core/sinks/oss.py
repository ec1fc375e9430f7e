"""A LogSink on OSS through its S3-compatible API (boto3, imported when a client is made).

OSS has no append through S3, so a running step's log is a series of **chunk
objects**, each named by the byte offset where it starts; readers list the
step's chunks and stitch them from any offset. Layout under ``<prefix>/<run_id>/``:

- ``logs/<step>/<offset, 16 digits>`` — a chunk (zero-padded, so listing order is
  offset order); the first chunk is written when the log is created, so a log
  exists for readers as soon as its first ``append`` or ``close`` returns;
- ``logs/<step>/closed`` — the closed marker (its body: the log's length), written
  after every chunk;
- ``index/<ns, 20 digits>.<step>`` — one empty object per step, for ``steps`` in
  creation order.

Near-live: ``append`` buffers; a flusher thread writes a step's buffer as a new
chunk once its oldest byte is ``flush_interval`` old (1 s, checked every 0.1 s),
and ``append`` writes at once when the buffer reaches ``flush_bytes`` (256 KB). A
follower elsewhere polls every ``follow_interval`` (0.5 s, to bound LIST
requests), so a line is visible within about 1.6 s plus a few round trips (a PUT,
a LIST, a GET). Cost: at most one PUT a second per step that prints, and two
LISTs a second per follower. Reads through the writing sink
flush that step's buffer first, so a writer always reads its own writes.

On ``close`` a log of several chunks no larger than ``compose_limit`` is
composed: chunk 0 is overwritten with the whole log and the other chunks are
deleted. A reader racing this stays correct: it bounds each ranged GET by the
size it listed (chunk 0's new body starts with its old one), and a chunk deleted
under it makes it list again.

Objects are private (``x-amz-acl: private`` on every PUT). Errors from OSS become
``BackendError`` naming the operation and OSS's error code, with the cause
chained; a failed background flush is raised by the next ``append`` or ``close``
of that step. Concurrency: one writer per step, as the LogSink Protocol says;
the sink object is thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from scd_core.errors import BackendError, BadRequest, Conflict, NotFound
from scd_core.logsink import LogChunk, check_offset, follow_log, trim_chunk, validate_id
from scd_core.sinks.ossio import CLOSED, call, chunk_key, gather, list_keys, listing, put
from scd_core.sinks.osslifecycle import LIFECYCLE_RULE, ensure_lifecycle

__all__ = ["LIFECYCLE_RULE", "OssLogSink", "ensure_lifecycle"]


@dataclass
class _Writer:
    """This sink's state for one step it writes; guarded by ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    created: bool = False
    closed: bool = False
    offset: int = 0  # where ``pending`` starts
    pending: bytearray = field(default_factory=bytearray)
    since: float = 0.0  # monotonic time the oldest pending byte arrived
    starts: list[int] = field(default_factory=list)  # chunks written by this writer
    whole: bytearray | None = field(default_factory=bytearray)  # the log, for composing
    failure: BackendError | None = None


class OssLogSink:
    """LogSink on ``bucket`` under ``prefix``; see the module docstring."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        flush_interval: float = 1.0,
        flush_bytes: int = 256 * 1024,
        follow_interval: float = 0.5,
        compose_limit: int = 8 << 20,
    ) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.flush_interval = flush_interval
        self.flush_bytes = flush_bytes
        self.follow_interval = follow_interval
        self.compose_limit = compose_limit
        self._lock = threading.Lock()
        self._writers: dict[tuple[str, str], _Writer] = {}
        self._flusher: threading.Thread | None = None
        self._index_clock = 0

    # -- keys ----------------------------------------------------------------


    @property
    def client(self) -> Any:
        """The service client (``scd cloud init`` sets the retention rule through it)."""
        return self._client
    def _run_key(self, run_id: str) -> str:
        validate_id("run id", run_id)
        return f"{self.prefix}/{run_id}/" if self.prefix else f"{run_id}/"

    def _step_key(self, run_id: str, step: str) -> str:
        validate_id("step key", step)
        return f"{self._run_key(run_id)}logs/{step}/"

    # -- OSS calls -------------------------------------------------------------

    # -- writing ---------------------------------------------------------------

    def _writer(self, run_id: str, step: str) -> _Writer:
        """This sink's writer for the step; a new one learns the step's state from OSS."""
        base = self._step_key(run_id, step)
        with self._lock:
            writer = self._writers.get((run_id, step))
            if writer is None:
                writer = self._writers[run_id, step] = _Writer()
                known = listing(self._client, self.bucket, base)
                if known.exists:  # written before, by this process or another
                    writer.created, writer.closed = True, known.closed
                    writer.offset, writer.whole = known.size, None
            return writer

    def _create(self, run_id: str, step: str, writer: _Writer, data: bytes) -> None:
        put(self._client, self.bucket, chunk_key(self._step_key(run_id, step), 0), data)
        with self._lock:
            self._index_clock = max(time.time_ns(), self._index_clock + 1)
            stamp = self._index_clock
        put(self._client, self.bucket, f"{self._run_key(run_id)}index/{stamp:020d}.{step}", b"")
        writer.created, writer.offset, writer.starts = True, len(data), [0]
        if writer.whole is not None:
            writer.whole.extend(data)

    def _flush(self, run_id: str, step: str, writer: _Writer) -> None:
        """Write the pending bytes as one chunk (caller holds ``writer.lock``)."""
        if not writer.pending:
            return
        data = bytes(writer.pending)
        key = chunk_key(self._step_key(run_id, step), writer.offset)
        put(self._client, self.bucket, key, data)
        writer.starts.append(writer.offset)
        writer.offset += len(data)
        writer.pending.clear()
        if writer.whole is not None:
            writer.whole.extend(data)
            if len(writer.whole) > self.compose_limit:
                writer.whole = None

    def _raise_failure(self, writer: _Writer) -> None:
        failure, writer.failure = writer.failure, None
        if failure is not None:
            raise failure

    def append(self, run_id: str, step: str, data: bytes) -> None:
        """Buffer complete framed lines (the first append writes at once); Conflict once closed."""
        self._step_key(run_id, step)
        if data and not data.endswith(b"\n"):
            raise BadRequest("a log append must end with a newline")
        writer = self._writer(run_id, step)
        with writer.lock:
            self._raise_failure(writer)
            if writer.closed:
                raise Conflict(f"log of step {step!r} of run {run_id!r} is closed")
            if not writer.created:
                self._create(run_id, step, writer, data)
                return
            if not data:
                return
            if not writer.pending:
                writer.since = time.monotonic()
            writer.pending.extend(data)
            if len(writer.pending) >= self.flush_bytes:
                self._flush(run_id, step, writer)
                return
        self._start_flusher()

    def close(self, run_id: str, step: str) -> None:
        """Flush, compose small logs, write the closed marker; idempotent."""
        base = self._step_key(run_id, step)
        writer = self._writer(run_id, step)
        with writer.lock:
            if writer.closed:
                return
            self._raise_failure(writer)
            if not writer.created:
                self._create(run_id, step, writer, b"")
            self._flush(run_id, step, writer)
            if writer.whole is not None and len(writer.starts) > 1:
                self._compose(base, writer)
            put(self._client, self.bucket, base + CLOSED, str(writer.offset).encode())
            writer.closed = True
        with self._lock:
            self._writers.pop((run_id, step), None)

    def _compose(self, base: str, writer: _Writer) -> None:
        assert writer.whole is not None
        put(self._client, self.bucket, chunk_key(base, 0), bytes(writer.whole))
        stale = [{"Key": chunk_key(base, start)} for start in writer.starts[1:]]
        for at in range(0, len(stale), 1000):  # DeleteObjects takes at most 1000 keys
            batch = {"Objects": stale[at : at + 1000], "Quiet": True}
            call(
                "DeleteObjects",
                lambda b=batch: self._client.delete_objects(Bucket=self.bucket, Delete=b),  # type: ignore[misc]
            )

    def flush(self) -> None:
        """Write every pending buffer now (e.g. before the process exits)."""
        with self._lock:
            writers = list(self._writers.items())
        for (run_id, step), writer in writers:
            with writer.lock:
                if not writer.closed:
                    self._flush(run_id, step, writer)

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_loop, name="oss-log-flusher", daemon=True
                )
                self._flusher.start()

    def _flush_loop(self) -> None:
        tick = min(0.1, self.flush_interval / 4)
        while True:
            time.sleep(tick)  # no stop: a daemon thread, idle once nothing is pending
            with self._lock:
                writers = list(self._writers.items())
            now = time.monotonic()
            for (run_id, step), writer in writers:
                with writer.lock:
                    if writer.pending and now - writer.since >= self.flush_interval:
                        try:
                            self._flush(run_id, step, writer)
                        except BackendError as exc:
                            writer.failure = exc

    # -- reading ---------------------------------------------------------------

    def read(self, run_id: str, step: str, offset: int = 0, limit: int = 1 << 20) -> LogChunk:
        """Up to ``limit`` bytes from ``offset``, stitched from chunks, cut back to whole lines."""
        base = self._step_key(run_id, step)
        check_offset(offset, limit)
        with self._lock:
            writer = self._writers.get((run_id, step))
        if writer is not None and writer.pending:
            with writer.lock:
                if not writer.closed:
                    self._flush(run_id, step, writer)
        for _attempt in range(3):
            found = listing(self._client, self.bucket, base)
            if not found.exists:
                raise NotFound(f"no log for step {step!r} of run {run_id!r}")
            data = gather(self._client, self.bucket, base, found, offset, limit)
            if data is not None:
                data = trim_chunk(data, limit)
                end = offset + len(data)
                return LogChunk(data, end, found.closed and end >= found.size)
        raise BackendError(f"the log of step {step!r} kept changing while being read")

    def follow(
        self,
        run_id: str,
        step: str,
        offset: int = 0,
        *,
        poll_interval: float = 0.05,
        stop: threading.Event | None = None,
    ) -> Iterator[bytes]:
        """Yield new data as chunks appear (polling at least ``follow_interval`` apart)."""
        wait = stop.wait if stop is not None else time.sleep
        interval = max(poll_interval, self.follow_interval)
        return follow_log(self, run_id, step, offset, wait, interval, stop)

    def steps(self, run_id: str) -> list[str]:
        """Step keys with a log, in creation order; [] for an unknown run."""
        base = f"{self._run_key(run_id)}index/"
        seen: dict[str, None] = {}
        for item in list_keys(self._client, self.bucket, base):
            _stamp, dot, step = item["Key"][len(base) :].partition(".")
            if dot and step:
                seen.setdefault(step, None)
        return list(seen)
