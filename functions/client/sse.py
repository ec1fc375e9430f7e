"""A parser for server-sent events (the ``text/event-stream`` format of the HTML standard).

Contract: :func:`parse_events` turns an iterator of lines (without their line
ends) into :class:`SseEvent` values, one per blank-line-terminated block that
has data or an event name. Comment lines (``: keepalive``) are skipped; ``data``
lines join with ``\\n``; a field without a colon has an empty value; one space
after the colon is dropped. An event's ``id`` is the last ``id`` seen so far, as
the standard's "last event ID" (so a resuming client always knows where it is).
A block cut off by the end of the stream is dropped, as a browser drops it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["SseEvent", "parse_events"]


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event: its type (``message`` by default), data and last event id."""

    event: str
    data: str
    id: str | None


def parse_events(lines: Iterable[str]) -> Iterator[SseEvent]:
    """The events in ``lines``, dispatched on each blank line."""
    last_id: str | None = None
    event = ""
    data: list[str] = []
    for line in lines:
        if not line:
            if data or event:
                yield SseEvent(event or "message", "\n".join(data), last_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            last_id = value
