"""The LogSink conformance suite, run against every backend; then file-backend specifics."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from oss_support import OssWorld
from scd_core.errors import BadRequest, Conflict, NotFound
from scd_core.logsink import LogSink
from scd_core.sinks.file import FileLogSink
from scd_core.sinks.memory import MemoryLogSink
from scd_core.sinks.oss import OssLogSink
from scd_core.sinks.sls import SlsLogSink, ensure_index
from scd_core.sinks.slsdouble import SlsDouble

RUN, STEP = "run-1", "build"
WAIT = 20.0  # generous upper bound for a test to wait on a live event; never a timing assertion


@pytest.fixture(params=["file", "memory", "oss", "sls"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> LogSink:
    if request.param == "file":
        return FileLogSink(tmp_path / "logs")
    if request.param == "oss":
        world: OssWorld = request.getfixturevalue("oss_world")
        return OssLogSink(world.client(), world.bucket(), "logs")
    if request.param == "sls":
        double = SlsDouble()
        double.create_logstore("scd", "logs")
        ensure_index(double, "scd", "logs", 30)
        return SlsLogSink(double, "scd", "logs")
    return MemoryLogSink()


def test_appended_lines_read_back_whole(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"one\n")
    sink.append(RUN, STEP, b"two\nthree\n")
    chunk = sink.read(RUN, STEP)
    assert chunk.data == b"one\ntwo\nthree\n"
    assert chunk.offset == len(chunk.data)
    assert not chunk.closed


def test_read_from_an_offset_continues_where_the_last_read_ended(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"one\n")
    first = sink.read(RUN, STEP)
    sink.append(RUN, STEP, b"two\n")
    second = sink.read(RUN, STEP, first.offset)
    assert second.data == b"two\n"
    assert second.offset == 8


def test_read_limit_cuts_back_to_whole_lines(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"aaaa\nbbbb\ncccc\n")
    chunk = sink.read(RUN, STEP, 0, limit=12)
    assert chunk.data == b"aaaa\nbbbb\n"
    assert chunk.offset == 10
    assert sink.read(RUN, STEP, chunk.offset, limit=12).data == b"cccc\n"


def test_a_line_longer_than_the_limit_is_returned_in_pieces(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"x" * 10 + b"\n")
    first = sink.read(RUN, STEP, 0, limit=4)
    assert first.data == b"xxxx"
    assert sink.read(RUN, STEP, first.offset, limit=100).data == b"x" * 6 + b"\n"


def test_read_past_the_end_returns_empty_data_at_that_offset(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"one\n")
    chunk = sink.read(RUN, STEP, 100)
    assert chunk.data == b""
    assert chunk.offset == 100
    assert not chunk.closed


def test_read_at_the_end_of_a_closed_log_says_closed(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"one\n")
    sink.close(RUN, STEP)
    chunk = sink.read(RUN, STEP)
    assert (chunk.data, chunk.closed) == (b"one\n", True)
    assert sink.read(RUN, STEP, chunk.offset).closed
    assert not sink.read(RUN, STEP, 0, limit=2).closed  # more data is still to be read


def test_negative_offset_is_a_bad_request(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"one\n")
    with pytest.raises(BadRequest):
        sink.read(RUN, STEP, -1)


def test_unknown_run_or_step_is_not_found(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"one\n")
    with pytest.raises(NotFound):
        sink.read("other-run", STEP)
    with pytest.raises(NotFound):
        sink.read(RUN, "other-step")


def test_append_of_an_incomplete_line_is_a_bad_request(sink: LogSink) -> None:
    with pytest.raises(BadRequest):
        sink.append(RUN, STEP, b"no newline")


def test_close_twice_is_fine_and_creates_an_empty_log_if_none(sink: LogSink) -> None:
    sink.close(RUN, STEP)
    sink.close(RUN, STEP)
    chunk = sink.read(RUN, STEP)
    assert (chunk.data, chunk.offset, chunk.closed) == (b"", 0, True)


def test_append_after_close_is_a_conflict(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"one\n")
    sink.close(RUN, STEP)
    with pytest.raises(Conflict):
        sink.append(RUN, STEP, b"two\n")
    assert sink.read(RUN, STEP).data == b"one\n"


def test_steps_lists_logs_in_creation_order(sink: LogSink) -> None:
    for step in ["setup", "zeta", "alpha", "Build.1"]:
        sink.append(RUN, step, b"x\n")
    sink.append(RUN, "setup", b"more\n")
    sink.close(RUN, "closed-only")
    sink.append("run-2", "other", b"x\n")
    assert sink.steps(RUN) == ["setup", "zeta", "alpha", "Build.1", "closed-only"]
    assert sink.steps("no-such-run") == []


BAD_IDS = ["", ".", "..", "a/b", "../etc", "a\\b", "a\x00b", "a..b", "sp ace", "é", "x" * 201]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_bad_run_ids_and_step_keys_are_rejected(sink: LogSink, bad: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: sink.append(bad, STEP, b"x\n"),
        lambda: sink.append(RUN, bad, b"x\n"),
        lambda: sink.close(bad, STEP),
        lambda: sink.close(RUN, bad),
        lambda: sink.read(bad, STEP),
        lambda: sink.read(RUN, bad),
        lambda: sink.follow(bad, STEP),
        lambda: sink.follow(RUN, bad),
        lambda: sink.steps(bad),
    ]
    for call in calls:
        with pytest.raises(BadRequest):
            call()


def test_longest_allowed_id_is_accepted(sink: LogSink) -> None:
    long_id = "a" * 200
    sink.append(long_id, long_id, b"x\n")
    assert sink.read(long_id, long_id).data == b"x\n"


def collect(follower: Iterator[bytes], into: queue.Queue[bytes | None]) -> threading.Thread:
    """Drain ``follower`` on a thread, putting each piece and then None into ``into``."""

    def run() -> None:
        for data in follower:
            into.put(data)
        into.put(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_follow_sees_lines_live_from_another_thread_and_ends_on_close(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"first\n")
    received: queue.Queue[bytes | None] = queue.Queue()
    thread = collect(sink.follow(RUN, STEP, poll_interval=0.01), received)
    assert received.get(timeout=WAIT) == b"first\n"
    for i in range(3):
        line = b"line %d\n" % i
        sink.append(RUN, STEP, line)
        assert received.get(timeout=WAIT) == line  # seen before the log is closed
    sink.close(RUN, STEP)
    assert received.get(timeout=WAIT) is None
    thread.join(WAIT)
    assert not thread.is_alive()


def test_follow_from_an_offset_skips_what_was_read(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"old\nnew\n")
    sink.close(RUN, STEP)
    assert list(sink.follow(RUN, STEP, 4)) == [b"new\n"]


def test_follow_of_a_closed_log_yields_everything_then_ends(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"a\n")
    sink.append(RUN, STEP, b"b\n")
    sink.close(RUN, STEP)
    assert b"".join(sink.follow(RUN, STEP)) == b"a\nb\n"


def test_follow_ends_when_stop_is_set(sink: LogSink) -> None:
    sink.append(RUN, STEP, b"a\n")
    stop = threading.Event()
    received: queue.Queue[bytes | None] = queue.Queue()
    thread = collect(sink.follow(RUN, STEP, poll_interval=0.01, stop=stop), received)
    assert received.get(timeout=WAIT) == b"a\n"
    stop.set()
    assert received.get(timeout=WAIT) is None
    thread.join(WAIT)
    assert not thread.is_alive()


def test_follow_of_an_unknown_log_is_not_found_at_once(sink: LogSink) -> None:
    with pytest.raises(NotFound):
        sink.follow(RUN, "missing")
    with pytest.raises(BadRequest):
        sink.follow(RUN, STEP, -5)


# -- file backend specifics -------------------------------------------------------------

FOLLOWER = """
import sys
from scd_core.sinks.file import FileLogSink
for data in FileLogSink(sys.argv[1]).follow(sys.argv[2], sys.argv[3], poll_interval=0.01):
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
"""


def test_file_follower_in_another_process_sees_lines_live(tmp_path: Path) -> None:
    sink = FileLogSink(tmp_path)
    sink.append(RUN, STEP, b"started\n")
    child = subprocess.Popen(
        [sys.executable, "-c", FOLLOWER, str(tmp_path), RUN, STEP],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    try:
        assert child.stdout.readline() == b"started\n"
        for i in range(3):
            line = b"live %d\n" % i
            sink.append(RUN, STEP, line)
            assert child.stdout.readline() == line  # arrives while the log is still open
        sink.close(RUN, STEP)
        assert child.wait(WAIT) == 0
        assert child.stdout.read() == b""
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_file_layout_is_one_log_and_marker_per_step(tmp_path: Path) -> None:
    sink = FileLogSink(tmp_path)
    sink.append(RUN, STEP, b"x\n")
    sink.close(RUN, STEP)
    assert (tmp_path / RUN / f"{STEP}.log").read_bytes() == b"x\n"
    assert (tmp_path / RUN / f"{STEP}.closed").exists()


def test_file_logs_are_shared_between_sink_instances(tmp_path: Path) -> None:
    writer, reader = FileLogSink(tmp_path), FileLogSink(tmp_path)
    writer.append(RUN, STEP, b"x\n")
    writer.close(RUN, STEP)
    chunk = reader.read(RUN, STEP)
    assert (chunk.data, chunk.closed) == (b"x\n", True)
    assert reader.steps(RUN) == [STEP]
    with pytest.raises(Conflict):
        reader.append(RUN, STEP, b"late\n")


def test_file_sink_touches_nothing_for_a_bad_id(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    sink = FileLogSink(root)
    with pytest.raises(BadRequest):
        sink.append("../escape", STEP, b"x\n")
    assert not root.exists()
    assert not (tmp_path / "escape").exists()


def test_file_sink_keeps_working_past_its_open_descriptor_cache(tmp_path: Path) -> None:
    sink = FileLogSink(tmp_path)
    steps = [f"s{i}" for i in range(100)]
    for step in steps:
        sink.append(RUN, step, b"a\n")
    for step in steps:
        sink.append(RUN, step, b"b\n")
        sink.close(RUN, step)
    assert all(sink.read(RUN, step).data == b"a\nb\n" for step in steps)
    assert sink.steps(RUN) == steps
