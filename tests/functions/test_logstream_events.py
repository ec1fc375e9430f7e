"""``logstream.sse_events``: one event per newline-ended line, with resumable byte offsets."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from scd_core.models import Event, Run, StepState
from scd_core.sinks.file import FileLogSink
from scd_core.stores.memory import MemoryRunStore

from functions.trigger.logstream import sse_events, sse_line

STAMP = b"2026-11-27T07:20:25.123Z "


def _stream(tmp_path: Path, log: bytes, offset: int = 0) -> list[dict[str, Any]]:
    """The events of a closed log of a finished step, parsed."""
    store = MemoryRunStore()
    sink = FileLogSink(tmp_path / "logs")
    run_id = uuid.uuid4().hex
    event = Event(provider="github", event_name="push", branch="main", commit="a" * 40)
    store.create_run(Run(id=run_id, app="web", dedup_key=run_id, event=event, status="success"))
    store.put_step(run_id, StepState(id="build", index=0, status="success"))
    sink.append(run_id, "build", log)
    sink.close(run_id, "build")

    async def collect() -> bytes:
        return b"".join([part async for part in sse_events(sink, store, run_id, "build", offset)])

    return [_parse(block) for block in asyncio.run(collect()).split(b"\n\n") if b"event:" in block]


def _parse(block: bytes) -> dict[str, Any]:
    fields = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
    return {
        "id": int(fields[b"id"]) if b"id" in fields else None,
        "event": fields[b"event"].decode(),
        "data": json.loads(fields[b"data"]),
    }


def test_a_carriage_return_inside_a_line_stays_in_one_event(tmp_path: Path) -> None:
    log = STAMP + b"10%\r50%\r100%\n" + STAMP + b"done\n"
    events = _stream(tmp_path, log)
    lines = [e for e in events if e["event"] == "line"]
    assert [e["data"]["text"] for e in lines] == ["10%\r50%\r100%", "done"]
    assert [e["id"] for e in lines] == [len(STAMP) + 13, len(log)]
    assert events[-1] == {"id": None, "event": "end", "data": {"status": "success"}}


def test_every_line_event_carries_the_offset_after_it_so_a_resume_sends_the_rest(
    tmp_path: Path,
) -> None:
    log = b"".join(STAMP + f"line {i}".encode() + b"\n" for i in range(1000))
    first = [e for e in _stream(tmp_path, log) if e["event"] == "line"]
    assert len(first) == 1000
    resumed = [e for e in _stream(tmp_path, log, first[599]["id"]) if e["event"] == "line"]
    assert [e["data"]["text"] for e in resumed] == [f"line {i}" for i in range(600, 1000)]
    assert resumed[-1]["id"] == len(log)


def test_a_line_event_is_the_json_of_its_timestamp_and_text() -> None:
    event = sse_line(STAMP + b'caf\xc3\xa9 \x1b[32mok\x1b[0m "q"\n', 99)
    data = {"t": "2026-11-27T07:20:25.123000Z", "text": 'café \x1b[32mok\x1b[0m "q"'}
    assert event == f"id: 99\nevent: line\ndata: {json.dumps(data)}\n\n".encode()


def test_an_unframed_or_impossible_stamp_gives_a_null_timestamp_and_the_whole_line() -> None:
    for line in (b"plain \xff text", b"2026-13-27T07:20:25.123Z month 13"):
        data = json.loads(sse_line(line, 1).split(b"data: ", 1)[1])
        assert data == {"t": None, "text": line.decode("utf-8", "replace")}


def test_a_zero_fraction_is_left_out_of_the_timestamp_as_isoformat_does() -> None:
    data = json.loads(sse_line(b"2026-11-27T07:20:25.000Z tick", 1).split(b"data: ", 1)[1])
    assert data == {"t": "2026-11-27T07:20:25Z", "text": "tick"}
