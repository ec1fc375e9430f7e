"""Stored log lines as server-sent ``line`` events, built without a JSON encoder call.

Contract: ``sse_line(line, end_offset)`` is one stored log line (its newline
optional) as the bytes of one ``event: line`` whose ``id`` is ``end_offset`` and
whose ``data`` is ``{"t": "<ISO timestamp>"|null, "text": "<line>"}``, exactly as
``json.dumps`` would write it; ``sse_chunk(chunk, start)`` is every line of a chunk
read at offset ``start``, in one buffer. Pure functions, safe from any thread.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_string

__all__ = ["sse_chunk", "sse_line"]

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


def sse_chunk(chunk: bytes, start: int) -> bytes:
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
