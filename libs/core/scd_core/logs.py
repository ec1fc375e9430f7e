"""Log framing: a process's raw output to timestamped, masked lines in a LogSink.

Each stored line is ``<UTC ISO-8601 timestamp with milliseconds>Z <text>\\n``,
for example ``2026-11-27T07:20:25.123Z hello``. The text is the output as it was
(ANSI colours kept, invalid UTF-8 kept as bytes) except that ``\\r\\n`` becomes
``\\n``, registered secrets become ``***``, and a line longer than
:data:`MAX_LINE` bytes is split into pieces of at most that size.

Milliseconds, not microseconds: on short lines the prefix is a large part of
what is stored (28 bytes on a 38-byte line), and four bytes fewer per line is 6%
less to frame and write. Readers (:func:`parse_line`, :func:`strip_timestamps`)
also accept the six-digit stamps of older logs.

Speed: every step works on a whole chunk with C-level bytes methods (one
``replace`` frames all its lines); nothing loops over lines in Python unless a
chunk holds a line over MAX_LINE or an ``::add-mask::`` command.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from scd_core.errors import BadRequest, Conflict
from scd_core.logsink import LogSink
from scd_core.masking import MASK, Masker
from scd_core.models import utcnow

__all__ = [
    "ADD_MASK",
    "MAX_LINE",
    "PREFIX_LEN",
    "LogWriter",
    "format_timestamp",
    "parse_line",
    "strip_timestamps",
]

MAX_LINE = 64 * 1024
ADD_MASK = b"::add-mask::"

#: Length of the prefix (timestamp and one space) that LogWriter puts on each line.
PREFIX_LEN = len("2026-11-27T07:20:25.123Z ")
_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # %f reads three digits as well as six
_TS_LENS = (PREFIX_LEN - 1, len("2026-11-27T07:20:25.123456Z"))
_STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?:\d{3})?Z ")
_PREFIX = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?:\d{3})?Z ?", re.MULTILINE)
_NL_ADD_MASK = b"\n" + ADD_MASK
_ADD_MASK_LINE = re.compile(rb"^::add-mask::(.*)$", re.MULTILINE)
# See _settle_heap: the size of the one block freed to raise glibc's thresholds.
_HEAP_BLOCK = 8 * 1024 * 1024
_heap_settled = False


def _settle_heap() -> None:
    """Make glibc's malloc keep the heap that framing churns through, once per process.

    Every chunk allocates a few buffers of 64-200 KiB and frees them at once. With
    glibc's default thresholds (mmap 128 KiB, trim 128 KiB) the freed top of the heap
    goes back to the kernel after each chunk and is page-faulted back in by the next:
    measured on 200 MB of short lines, 162,000 page faults and over half the step's
    CPU time in the kernel. Freeing one mmapped block makes glibc raise its mmap
    threshold to that block's size and its trim threshold to twice that (the
    "dynamic mmap threshold" of mallopt(3)), so up to 16 MiB of freed heap is kept
    for reuse: 5,000 page faults. ``bytes(n)`` comes from calloc, so no page of the
    block is touched; other allocators simply free it. ctypes' ``mallopt`` would say
    the same thing more directly but costs 5-10 ms of import per process.
    """
    global _heap_settled
    if not _heap_settled:
        _heap_settled = True
        block = bytes(_HEAP_BLOCK)
        del block


def format_timestamp(moment: datetime) -> bytes:
    """``moment`` as the framing timestamp, to the millisecond (truncated, so stamps
    never run ahead of the clock); a naive datetime is taken as UTC."""
    if moment.tzinfo is not None and moment.utcoffset():
        moment = moment.astimezone(timezone.utc)
    # %-formatting the fields is four times the speed of strftime.
    return b"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond // 1000,
    )


def strip_timestamps(data: bytes) -> bytes:
    """Framed lines back to the plain output (the timestamp and one space off each line)."""
    head = _STAMP.match(data)
    if head is not None:
        # The lines of one LogWriter append share a stamp: when every line starts with
        # the first one's, a C-level replace strips them all, ten times the regex's speed.
        prefix = head.group()
        plain = data[len(prefix) :].replace(b"\n" + prefix, b"\n")
        lines = data.count(b"\n") + (not data.endswith(b"\n"))
        if len(data) - len(plain) == len(prefix) * lines:
            return plain
    return _PREFIX.sub(b"", data)


def parse_line(line: bytes) -> tuple[datetime, bytes]:
    """One framed line (its newline optional) as (UTC timestamp, text); BadRequest if not framed."""
    if line.endswith(b"\n"):
        line = line[:-1]
    stamp, _, text = line.partition(b" ")
    try:
        if len(stamp) not in _TS_LENS:
            raise ValueError(stamp)
        moment = datetime.strptime(stamp.decode("ascii"), _TS_FORMAT)
    except ValueError as exc:
        raise BadRequest("not a framed log line") from exc
    return moment.replace(tzinfo=timezone.utc), text


def _has_add_mask(body: bytes) -> bool:
    """Whether a line after the first starts with the add-mask marker."""
    # Two memchr tests for the marker's least common letters rule most chunks out at
    # once; the scan itself looks for a newline before the marker, twice as fast.
    return b"k" in body and b"-" in body and _NL_ADD_MASK in body


def _unescape_command(value: bytes) -> bytes:
    # GitHub's workflow-command data escaping, so `::add-mask::a%0Ab` registers a two-line value.
    return value.replace(b"%0D", b"\r").replace(b"%0A", b"\n").replace(b"%25", b"%")


def _split_long(body: bytes) -> bytes:
    """``body`` (whole lines) with a newline inserted every MAX_LINE bytes of a longer line."""
    n = len(body)
    pos = start = 0
    parts: list[bytes] = []
    while n - pos > MAX_LINE + 1:
        # The last newline in the next MAX_LINE + 1 bytes ends a line that fits: jump past it.
        nl = body.rfind(b"\n", pos, pos + MAX_LINE + 1)
        if nl >= 0:
            pos = nl + 1
            continue
        pos += MAX_LINE
        parts += (body[start:pos], b"\n")
        start = pos
    if not parts:
        return body
    parts.append(body[start:])
    return b"".join(parts)


class LogWriter:
    """Frames a process's raw output into timestamped, masked lines and appends them to a sink.

    ``write`` takes any bytes and holds back an incomplete last line (at most
    MAX_LINE bytes, so memory stays bounded); ``flush`` emits it; ``close``
    flushes and closes the step's log. All lines from one ``write`` call share
    one timestamp, taken from ``clock``. Each call makes at most one
    ``sink.append``. Thread-safe (calls are serialised).

    A line of output that starts with ``::add-mask::VALUE`` registers VALUE with
    the masker (created here if none was given) and is stored as
    ``::add-mask::***``. Values registered by lines in a chunk are masked in the
    whole chunk, so also in the few lines that arrived just before the command.
    """

    def __init__(
        self,
        sink: LogSink,
        run_id: str,
        step: str,
        masker: Masker | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sink = sink
        self.run_id = run_id
        self.step = step
        self.masker = masker if masker is not None else Masker()
        self._clock = clock
        _settle_heap()
        self._held = b""
        self._closed = False
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        """Frame and append every complete line of ``data``; hold back the rest."""
        if not data:
            return
        with self._lock:
            self._check_open()
            body, rest = self._lines(data)
            if body.startswith(ADD_MASK) or _has_add_mask(body):
                body = self._add_masks(body)
            body = self._mask(body)
            if len(rest) > MAX_LINE:
                # Mask before cutting, so a secret across a cut is still masked whole.
                rest = self._mask(rest)
                cut = len(rest) - (len(rest) - 1) % MAX_LINE - 1
                body += rest[:cut] + b"\n"  # _emit splits it into MAX_LINE pieces
                rest = rest[cut:]
            self._held = rest
            self._emit(body)

    def line(self, text: str) -> None:
        """Append one whole line from scd itself (a header, an error), masked.

        A held partial line of output is flushed first, so lines keep their order.
        A newline inside ``text`` makes several lines.
        """
        with self._lock:
            self._check_open()
            self._flush()
            data = text.encode("utf-8", "surrogateescape").replace(b"\r\n", b"\n")
            self._emit(self._mask(data if data.endswith(b"\n") else data + b"\n"))

    def flush(self) -> None:
        """Emit a held partial line as a line of its own."""
        with self._lock:
            if not self._closed:
                self._flush()

    def close(self) -> None:
        """Flush, then close the step's log in the sink; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._flush()
            self._closed = True
            self.sink.close(self.run_id, self.step)

    # -- internals (called with the lock held) ------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise Conflict(f"log writer for step {self.step!r} is closed")

    def _flush(self) -> None:
        if self._held:
            held, self._held = self._held, b""
            if held.startswith(ADD_MASK):
                held = self._add_masks(held + b"\n")[:-1]
            self._emit(self._mask(held) + b"\n")

    def _lines(self, data: bytes) -> tuple[bytes, bytes]:
        """The held line and ``data`` as (whole lines, CRLF made LF; the incomplete rest)."""
        held = self._held
        if b"\r" in data or held.endswith(b"\r"):
            # Held text has no newline, so a CRLF can only start at its very end.
            buf = (held + data).replace(b"\r\n", b"\n")
            nl = buf.rfind(b"\n") + 1
            return buf[:nl], buf[nl:]
        nl = data.rfind(b"\n") + 1
        if not nl:
            return b"", held + data
        # One copy of the lines (slicing data first and then adding would make two).
        body = b"".join((held, memoryview(data)[:nl])) if held else data[:nl]
        return body, data[nl:]

    def _mask(self, data: bytes) -> bytes:
        return self.masker.mask_bytes(data) if data and self.masker.active else data

    def _add_masks(self, body: bytes) -> bytes:
        """Register each ``::add-mask::`` value in ``body``; rewrite those lines."""
        for match in _ADD_MASK_LINE.finditer(body):
            value = _unescape_command(match.group(1)).strip()
            if value:
                self.masker.add(value.decode("utf-8", "surrogateescape"))
        return _ADD_MASK_LINE.sub(ADD_MASK + MASK.encode(), body)

    def _emit(self, body: bytes) -> None:
        """Frame ``body`` (whole lines, masked) and append it with one sink call."""
        if not body:
            return
        body = _split_long(body)
        prefix = format_timestamp(self._clock()) + b" "
        # Replacing every newline also puts a prefix after the last one: cut it off
        # through a memoryview rather than copy the body without its last newline.
        framed = body.replace(b"\n", b"\n" + prefix)
        framed = b"".join((prefix, memoryview(framed)[: -len(prefix)]))
        self.sink.append(self.run_id, self.step, framed)
