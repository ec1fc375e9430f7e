"""How a run is laid out in Tablestore's ``runs`` and ``chunks`` tables (see
``scd_core.stores.tablestore_schema``): ``RunCodec`` turns a run into the run row's
columns, writing a large event's chunks first, and a run row back into a run.

A run whose JSON passes ``INLINE_BYTES`` keeps its event in ``chunks``, keyed by the
SHA-256 of the event's JSON: writing them is idempotent, and an event this process
wrote or read is not written again when only the run's status changes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from pydantic_core import PydanticSerializationError

from scd_core.models import Run
from scd_core.stores.rows import dump_model, epoch_us, load_model, normalise_run
from scd_core.stores.tablestore_client import OtsCalls, columns_of, kv_key
from scd_core.stores.tablestore_schema import CHUNK_BYTES, INLINE_BYTES, TableNames

__all__ = ["RunCodec", "index_text"]


def index_text(value: str | None) -> str | None:
    """An index column's value: ``value`` if Tablestore can hold it, else a digest
    (applied to filters too, so a lone surrogate still matches itself)."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogatepass")
        return "\x00sha256:" + hashlib.sha256(raw).hexdigest()
    return value


class RunCodec:
    """Encodes and decodes runs for one store; thread-safe."""

    def __init__(self, calls: OtsCalls, names: TableNames) -> None:
        self._calls = calls
        self._names = names
        self._written_events: set[tuple[str, str]] = set()
        self._events_lock = threading.Lock()

    def columns(self, run: Run) -> list[tuple[str, Any]]:
        """The run row's columns; writes the event's chunks first when it is large."""
        data = dump_model(run)
        columns: list[tuple[str, Any]] = [
            ("version", run.version),
            ("dedup", kv_key("dedup", run.dedup_key)),
        ]
        if len(data) > INLINE_BYTES // 4 and len(_utf8(data)) > INLINE_BYTES:
            event = _utf8(dump_model(run.event))
            sha = hashlib.sha256(event).hexdigest()
            parts = self._write_event(run.id, sha, event)
            columns += [("event_sha", sha), ("event_parts", parts)]
            data = _without_event(run)
        columns.append(("data", data))
        index = [
            ("app", index_text(run.app)),
            ("created_us", epoch_us(run.created_at)),
            ("status", run.status),
            ("event_name", index_text(run.event.event_name)),
            ("branch", index_text(run.event.branch)),
        ]
        return columns + [(name, value) for name, value in index if value is not None]

    def _write_event(self, run_id: str, sha: str, raw: bytes) -> int:
        from tablestore import Condition, Row, RowExistenceExpectation

        parts = -(-len(raw) // CHUNK_BYTES)
        with self._events_lock:
            if (run_id, sha) in self._written_events:
                return parts
        for part in range(parts):
            chunk = bytearray(raw[part * CHUNK_BYTES : (part + 1) * CHUNK_BYTES])
            pk = [("run_id", run_id), ("sha", sha), ("part", part)]
            self._calls.call(
                "put_row",
                self._names.chunks,
                Row(pk, [("data", chunk)]),
                Condition(RowExistenceExpectation.IGNORE),
            )
        self._remember_event(run_id, sha)
        return parts

    def _remember_event(self, run_id: str, sha: str) -> None:
        """Note that the chunks of ``(run_id, sha)`` are stored (bounded: a long-lived
        trigger forgets them all now and then, and at worst writes them again)."""
        with self._events_lock:
            if len(self._written_events) > 10_000:
                self._written_events.clear()
            self._written_events.add((run_id, sha))

    def decode(self, run_id: str, columns: dict[str, Any]) -> Run:
        """The run of a row; its number is the row's ``number`` column, written once at
        creation (an update writes the JSON, never the number)."""
        run = self._decode(run_id, columns)
        number = columns.get("number")
        if number is not None and run.number != number:
            run = run.model_copy(update={"number": int(number)})
        return run

    def _decode(self, run_id: str, columns: dict[str, Any]) -> Run:
        sha = columns.get("event_sha")
        if sha is None:
            return normalise_run(load_model(Run, columns["data"]))
        from tablestore import INF_MAX, INF_MIN

        raw = bytearray()
        start: Any = [("run_id", run_id), ("sha", sha), ("part", INF_MIN)]
        end = [("run_id", run_id), ("sha", sha), ("part", INF_MAX)]
        while start is not None:
            _, start, rows, _ = self._calls.call(
                "get_range", self._names.chunks, "FORWARD", start, end
            )
            for row in rows:
                raw += columns_of(row)["data"]
        self._remember_event(run_id, sha)
        head = columns["data"]
        event = raw.decode("utf-8", "surrogatepass")
        return normalise_run(load_model(Run, f'{head[:-1]},"event":{event}}}'))


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _without_event(run: Run) -> str:
    """The run's JSON without its ``event`` key: an object ``_decode`` appends it to."""
    try:
        return run.model_dump_json(exclude={"event"})
    except PydanticSerializationError:
        return json.dumps(run.model_dump(mode="json", exclude={"event"}))
