"""A LogSink on an SLS logstore (``aliyun-log-python-sdk``, imported when a client is made).

Every line is one log entry with the fields ``run``, ``step``, ``kind`` (``line``),
``offset`` (its byte offset in the step's log), ``ts`` (nanoseconds) and ``text``
(the line, or ``b64`` for a line that is not UTF-8). Lines longer than 64 KB are
stored as pieces, each with its own offset. ``kind: open`` (with ``seq``, for the
creation order ``steps`` lists) marks a new log and ``kind: closed`` (with
``size``) a closed one. ``append`` sends its lines at once with ``put_logs``, in
requests within SLS's limits (at most 4,096 entries and 3 MB of values each; SLS
allows 5 MB).

Reads are queries on those fields (the index ``ensure_index`` creates: ``run``,
``step``, ``kind`` as text, ``offset``/``seq``/``size`` as long): one query for
``offset in [from, from + limit)`` plus the markers, sorted by offset client-side
and stitched while contiguous. A follower polls (``follow_interval``, 1 s).

Indexing delay: SLS makes an entry searchable about 1 s after ``put_logs``
(documented as near real time; up to a few seconds under load), so a follower
sees a line within about 2 s and a reader just after a write may not see it yet:
stitching stops at the first gap and returns what is contiguous. The double
(``slsdouble``) takes this delay as a setting.

Errors: ``LogException`` becomes ``BackendError`` naming the operation and SLS's
error code, cause chained, never a credential. Concurrency: one writer per
step; the sink object is thread-safe.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from scd_core.errors import BackendError, BadRequest, Conflict, NotFound
from scd_core.logsink import LogChunk, check_offset, follow_log, trim_chunk, validate_id

__all__ = ["FIELDS", "SlsLogSink", "ensure_index"]

_T = TypeVar("_T")
PIECE = 64 * 1024
MAX_ITEMS = 4096
MAX_BYTES = 3 << 20
_END = 1 << 53
PAGE = 100  # GetLogs returns at most 100 entries a call
FIELDS = {"run": "text", "step": "text", "kind": "text", "offset": "long", "seq": "long",
          "size": "long", "ts": "long", "text": "text", "b64": "text"}  # fmt: skip


@dataclass
class _State:
    created: bool = False
    closed: bool = False
    offset: int = 0


class SlsLogSink:
    """LogSink on ``project``/``logstore``; see the module docstring."""

    def __init__(
        self,
        client: Any,
        project: str,
        logstore: str,
        *,
        follow_interval: float = 1.0,
        window_days: int = 366,
    ) -> None:
        self._client = client
        self.project, self.logstore = project, logstore
        self.follow_interval = follow_interval
        self.window = window_days * 86400
        self._lock = threading.Lock()
        self._states: dict[tuple[str, str], _State] = {}
        self._seq = 0


    @property
    def client(self) -> Any:
        """The service client (``scd cloud init`` sets the retention rule through it)."""
        return self._client
    def _call(self, what: str, call: Callable[[], _T]) -> _T:
        from aliyun.log import LogException

        try:
            return call()
        except LogException as exc:
            raise BackendError(f"SLS {what} failed: {exc.get_error_code()}") from exc

    # -- writing ---------------------------------------------------------------

    def _put(self, entries: list[dict[str, str]]) -> None:
        from aliyun.log import LogItem, PutLogsRequest

        batch: list[Any] = []
        size = 0
        for entry in entries:
            weight = sum(len(k) + len(v) for k, v in entry.items())
            if batch and (len(batch) >= MAX_ITEMS or size + weight > MAX_BYTES):
                self._send(PutLogsRequest(self.project, self.logstore, "", "", batch))
                batch, size = [], 0
            batch.append(LogItem(int(time.time()), list(entry.items())))
            size += weight
        if batch:
            self._send(PutLogsRequest(self.project, self.logstore, "", "", batch))

    def _send(self, request: Any) -> None:
        self._call("PutLogs", lambda: self._client.put_logs(request))

    def _state(self, run_id: str, step: str) -> _State:
        validate_id("run id", run_id)
        validate_id("step key", step)
        with self._lock:
            state = self._states.get((run_id, step))
            if state is None:
                state = self._states[run_id, step] = _State()
                entries = self._query(run_id, step, 0, _END)  # a writer resuming: rare
                marks = [e for e in entries if e.get("kind") in ("open", "closed")]
                if marks:
                    state.created = True
                    state.closed = any(e["kind"] == "closed" for e in marks)
                    lines = _lines(entries)
                    state.offset = max((o + len(d) for o, d in lines.items()), default=0)
            return state

    def _mark(self, run_id: str, step: str, kind: str, **extra: int) -> dict[str, str]:
        entry = {"run": run_id, "step": step, "kind": kind, "ts": str(time.time_ns())}
        entry.update({key: str(value) for key, value in extra.items()})
        return entry

    def append(self, run_id: str, step: str, data: bytes) -> None:
        """Send complete framed lines now; Conflict once closed."""
        state = self._state(run_id, step)
        if data and not data.endswith(b"\n"):
            raise BadRequest("a log append must end with a newline")
        with self._lock:
            if state.closed:
                raise Conflict(f"log of step {step!r} of run {run_id!r} is closed")
            entries = [] if state.created else [self._open(run_id, step)]
            for piece in _pieces(data):
                entry = self._mark(run_id, step, "line", offset=state.offset)
                entry.update(_text(piece))
                entries.append(entry)
                state.offset += len(piece)
            self._put(entries)
            state.created = True

    def _open(self, run_id: str, step: str) -> dict[str, str]:
        self._seq = max(time.time_ns(), self._seq + 1)
        return self._mark(run_id, step, "open", seq=self._seq)

    def close(self, run_id: str, step: str) -> None:
        """Write the closed marker (and the open one for an empty log); idempotent."""
        state = self._state(run_id, step)
        with self._lock:
            if state.closed:
                return
            entries = [] if state.created else [self._open(run_id, step)]
            entries.append(self._mark(run_id, step, "closed", size=state.offset))
            self._put(entries)
            state.created = state.closed = True
            self._states.pop((run_id, step), None)

    # -- reading ---------------------------------------------------------------

    def _query(self, run_id: str, step: str, low: int, high: int) -> list[dict[str, str]]:
        """Entries of the step: markers, and lines starting in ``[low, high)``."""
        query = (
            f'run: "{run_id}" and step: "{step}" and '
            f"(kind: open or kind: closed or offset in [{low} {high}))"
        )
        return self._search(query)

    def _search(self, query: str) -> list[dict[str, str]]:
        """Every entry ``query`` finds, a page of 100 at a time."""
        now = int(time.time())
        found: list[dict[str, str]] = []
        while True:
            at = len(found)
            page = self._call(
                "GetLogs",
                lambda at=at: self._client.get_log(  # type: ignore[misc]
                    self.project, self.logstore, now - self.window, now + 60,
                    query=query, offset=at, size=PAGE,
                ),
            )  # fmt: skip
            logs = page.get_logs()
            found.extend(dict(log.get_contents()) for log in logs)
            if len(logs) < PAGE:
                return found

    def read(self, run_id: str, step: str, offset: int = 0, limit: int = 1 << 20) -> LogChunk:
        """Up to ``limit`` bytes from ``offset``, stitched while contiguous."""
        validate_id("run id", run_id)
        validate_id("step key", step)
        check_offset(offset, limit)
        entries = self._query(run_id, step, max(0, offset - PIECE + 1), offset + limit)
        kinds = {e.get("kind") for e in entries}
        if "open" not in kinds and "closed" not in kinds:
            raise NotFound(f"no log for step {step!r} of run {run_id!r}")
        sizes = [int(e["size"]) for e in entries if e.get("kind") == "closed"]
        out, pos = bytearray(), offset
        lines = _lines(entries)
        for start in sorted(lines):
            data = lines[start]
            if start + len(data) <= pos:
                continue
            if start > pos:
                break  # a gap: not indexed yet
            out.extend(data[pos - start :])
            pos = start + len(data)
            if len(out) >= limit:
                break
        data = trim_chunk(bytes(out[:limit]), limit)
        end = offset + len(data)
        return LogChunk(data, end, bool(sizes) and end >= sizes[0])

    def follow(
        self,
        run_id: str,
        step: str,
        offset: int = 0,
        *,
        poll_interval: float = 0.05,
        stop: threading.Event | None = None,
    ) -> Iterator[bytes]:
        """Yield lines as they become searchable (polls at least ``follow_interval`` apart)."""
        wait = stop.wait if stop is not None else time.sleep
        interval = max(poll_interval, self.follow_interval)
        return follow_log(self, run_id, step, offset, wait, interval, stop)

    def steps(self, run_id: str) -> list[str]:
        """Step keys with a log, in creation order; [] for an unknown run."""
        validate_id("run id", run_id)
        found = self._search(f'run: "{run_id}" and kind: open')
        ordered = sorted(found, key=lambda e: int(e.get("seq", "0")))
        return list(dict.fromkeys(e["step"] for e in ordered))


def _pieces(data: bytes) -> Iterator[bytes]:
    for line in data.splitlines(keepends=True):
        for at in range(0, len(line), PIECE):
            yield line[at : at + PIECE]


def _text(piece: bytes) -> dict[str, str]:
    try:
        return {"text": piece.decode("utf-8")}
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(piece).decode()}


def _lines(entries: list[dict[str, str]]) -> dict[int, bytes]:
    """Line entries by offset (a retried put may have stored one twice)."""
    lines: dict[int, bytes] = {}
    for entry in entries:
        if entry.get("kind") != "line":
            continue
        if "b64" in entry:
            lines[int(entry["offset"])] = base64.b64decode(entry["b64"])
        else:
            lines[int(entry["offset"])] = entry.get("text", "").encode("utf-8")
    return lines


def ensure_index(client: Any, project: str, logstore: str, retention_days: int) -> None:
    """Index the sink's fields and set the logstore's retention; idempotent.

    Creates the index, or updates it when one exists (``IndexAlreadyExist``); the
    logstore must exist. For ``scd cloud init``; errors as for the sink.
    """
    from aliyun.log import IndexConfig, IndexKeyConfig, LogException

    if retention_days < 1:
        raise BadRequest(f"log retention must be at least 1 day: {retention_days}")
    keys = {name: IndexKeyConfig(index_type=kind, doc_value=kind == "long")
            for name, kind in FIELDS.items()}  # fmt: skip
    config = IndexConfig(ttl=retention_days, key_config_list=keys)
    try:
        try:
            client.create_index(project, logstore, config)
        except LogException as exc:
            if exc.get_error_code() != "IndexAlreadyExist":
                raise
            client.update_index(project, logstore, config)
        client.update_logstore(project, logstore, ttl=retention_days)
    except LogException as exc:
        raise BackendError(f"SLS index set-up failed: {exc.get_error_code()}") from exc
