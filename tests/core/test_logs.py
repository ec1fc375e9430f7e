"""LogWriter framing: timestamps, masking, add-mask, long lines, CRLF, partial lines, memory."""

from __future__ import annotations

import itertools
import re
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from scd_core.errors import BadRequest, Conflict
from scd_core.logs import (
    MAX_LINE,
    PREFIX_LEN,
    LogWriter,
    format_timestamp,
    parse_line,
    strip_timestamps,
)
from scd_core.masking import MASK, Masker
from scd_core.sinks.memory import MemoryLogSink

RUN, STEP = "run-1", "build"
START = datetime(2026, 11, 27, 7, 20, 25, 123000, tzinfo=timezone.utc)
FRAMED = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


def ticking_clock() -> tuple[list[datetime], Callable[[], datetime]]:
    """A clock that advances one millisecond per call, and the list of times it gave."""
    given: list[datetime] = []
    counter = itertools.count()

    def clock() -> datetime:
        given.append(START + timedelta(milliseconds=next(counter)))
        return given[-1]

    return given, clock


def stored(sink: MemoryLogSink) -> bytes:
    return sink.read(RUN, STEP).data


def plain(sink: MemoryLogSink) -> bytes:
    return strip_timestamps(stored(sink))


def lines(sink: MemoryLogSink) -> list[bytes]:
    return stored(sink).splitlines(keepends=True)


class DiscardSink(MemoryLogSink):
    """A sink that keeps nothing but counts what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0
        self.lines = 0

    def append(self, run_id: str, step: str, data: bytes) -> None:
        self.bytes += len(data)
        self.lines += data.count(b"\n")

    def close(self, run_id: str, step: str) -> None:
        pass


def test_each_line_is_framed_with_a_utc_timestamp_with_milliseconds() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP, clock=lambda: START + timedelta(microseconds=999))
    writer.write(b"hello\nworld\n")
    assert stored(sink) == b"2026-11-27T07:20:25.123Z hello\n2026-11-27T07:20:25.123Z world\n"
    assert all(len(line) == PREFIX_LEN + 6 for line in lines(sink))


def test_readers_also_take_the_microsecond_stamps_of_older_logs() -> None:
    old = b"2026-11-27T07:20:25.123456Z hello\n2026-11-27T07:20:25.123456Z\n"
    assert strip_timestamps(old) == b"hello\n\n"
    assert parse_line(old.splitlines()[0]) == (START.replace(microsecond=123456), b"hello")


def test_timestamps_are_converted_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    sink = MemoryLogSink()
    LogWriter(sink, RUN, STEP, clock=lambda: START.astimezone(cet)).write(b"x\n")
    moment, text = parse_line(lines(sink)[0])
    assert moment == START
    assert moment.utcoffset() == timedelta(0)
    assert text == b"x"


def test_default_clock_stamps_the_current_utc_time() -> None:
    sink = MemoryLogSink()
    now = datetime.now(timezone.utc)
    before = now.replace(microsecond=now.microsecond // 1000 * 1000)  # stamps are truncated
    LogWriter(sink, RUN, STEP).write(b"now\n")
    moment, _ = parse_line(lines(sink)[0])
    assert before <= moment <= datetime.now(timezone.utc)


def test_lines_of_one_write_share_a_timestamp_and_later_writes_get_new_ones() -> None:
    sink = MemoryLogSink()
    given, clock = ticking_clock()
    writer = LogWriter(sink, RUN, STEP, clock=clock)
    writer.write(b"a\nb\n")
    writer.write(b"c\n")
    stamps = [parse_line(line)[0] for line in lines(sink)]
    assert stamps == [given[0], given[0], given[1]]


def test_partial_line_is_held_until_its_newline_arrives() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP)
    writer.write(b"first\nsec")
    assert plain(sink) == b"first\n"
    writer.write(b"ond half")
    assert plain(sink) == b"first\n"
    writer.write(b"\nthird\n")
    assert plain(sink) == b"first\nsecond half\nthird\n"


def test_flush_emits_the_held_partial_line_as_a_line() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP)
    writer.write(b"no newline at end")
    writer.flush()
    assert plain(sink) == b"no newline at end\n"
    writer.flush()  # nothing held: nothing more
    assert plain(sink) == b"no newline at end\n"


def test_close_flushes_then_closes_the_log_and_is_idempotent() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP)
    writer.write(b"tail")
    writer.close()
    writer.close()
    chunk = sink.read(RUN, STEP)
    assert strip_timestamps(chunk.data) == b"tail\n"
    assert chunk.closed


def test_write_after_close_raises_conflict() -> None:
    writer = LogWriter(MemoryLogSink(), RUN, STEP)
    writer.close()
    with pytest.raises(Conflict):
        writer.write(b"late\n")


def test_crlf_becomes_lf_even_across_writes() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP)
    writer.write(b"one\r\ntwo\r")
    writer.write(b"\nthree\r\n")
    assert plain(sink) == b"one\ntwo\nthree\n"


def test_lone_carriage_return_and_ansi_colours_are_kept() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP)
    writer.write(b"\x1b[32mok\x1b[0m 10%\r20%\n")
    assert plain(sink) == b"\x1b[32mok\x1b[0m 10%\r20%\n"


def test_invalid_utf8_is_stored_as_bytes() -> None:
    sink = MemoryLogSink()
    LogWriter(sink, RUN, STEP).write(b"\xff\xfe bad \xc3\n")
    assert plain(sink) == b"\xff\xfe bad \xc3\n"


def test_empty_lines_are_kept() -> None:
    sink = MemoryLogSink()
    LogWriter(sink, RUN, STEP).write(b"a\n\n\nb\n")
    assert plain(sink) == b"a\n\n\nb\n"
    assert len(lines(sink)) == 4


def test_a_200_kib_line_is_stored_as_4_lines_keeping_every_byte() -> None:
    sink = MemoryLogSink()
    line = bytes(range(33, 127)) * (200 * 1024 // 94 + 1)
    line = line[: 200 * 1024]
    LogWriter(sink, RUN, STEP).write(line + b"\nafter\n")
    stored_lines = lines(sink)
    assert len(stored_lines) == 5
    texts = [parse_line(x)[1] for x in stored_lines]
    assert [len(t) for t in texts[:4]] == [MAX_LINE, MAX_LINE, MAX_LINE, 200 * 1024 - 3 * MAX_LINE]
    assert b"".join(texts[:4]) == line
    assert texts[4] == b"after"


def test_a_long_line_fed_in_small_writes_is_split_and_held_part_stays_bounded() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP)
    line = b"x" * (200 * 1024)
    for i in range(0, len(line), 1000):
        writer.write(line[i : i + 1000])
        assert len(writer._held) <= MAX_LINE
    writer.write(b"\n")
    texts = [parse_line(x)[1] for x in lines(sink)]
    assert [len(t) for t in texts] == [MAX_LINE, MAX_LINE, MAX_LINE, 200 * 1024 - 3 * MAX_LINE]


def test_a_line_of_exactly_max_line_bytes_is_not_split() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP)
    writer.write(b"y" * MAX_LINE)
    writer.write(b"\n")
    assert [len(parse_line(x)[1]) for x in lines(sink)] == [MAX_LINE]


def test_secrets_are_masked_before_framing() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP, masker=Masker(["hunter2hunter2"]))
    writer.write(b"password is hunter2hunter2\n")
    assert plain(sink) == f"password is {MASK}\n".encode()


def test_a_secret_split_across_writes_is_still_masked() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP, masker=Masker(["hunter2hunter2"]))
    writer.write(b"password is hunt")
    writer.write(b"er2hunter2 ok\n")
    assert plain(sink) == f"password is {MASK} ok\n".encode()


def test_a_secret_across_a_long_line_split_is_still_masked() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP, masker=Masker(["hunter2hunter2"]))
    writer.write(b"x" * (MAX_LINE - 5) + b"hunter2hunter2" + b"y" * 10 + b"\n")
    assert b"hunter2" not in stored(sink)
    assert b"hunt" not in plain(sink).replace(b"\n", b"")


def test_line_from_scd_is_masked_and_keeps_order_after_held_output() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP, masker=Masker(["hunter2hunter2"]))
    writer.write(b"partial")
    writer.line("error: hunter2hunter2 rejected")
    assert plain(sink) == f"partial\nerror: {MASK} rejected\n".encode()


def test_add_mask_command_registers_value_and_hides_it_in_later_lines() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP)
    writer.write(b"::add-mask::generated-token-42\nusing generated-token-42\n")
    writer.write(b"again generated-token-42\n")
    assert plain(sink) == f"::add-mask::{MASK}\nusing {MASK}\nagain {MASK}\n".encode()
    assert writer.masker.active


def test_add_mask_registers_with_the_given_shared_masker() -> None:
    masker = Masker()
    sink = MemoryLogSink()
    LogWriter(sink, RUN, STEP, masker=masker).write(b"::add-mask::shared-value-1\n")
    assert masker.mask("shared-value-1") == MASK


def test_add_mask_split_across_writes_and_in_a_flushed_tail_is_honoured() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP)
    writer.write(b"::add-ma")
    writer.write(b"sk::first-value\n::add-mask::second-value")
    writer.flush()
    writer.write(b"first-value second-value\n")
    assert plain(sink) == f"::add-mask::{MASK}\n::add-mask::{MASK}\n{MASK} {MASK}\n".encode()


def test_add_mask_mid_line_is_not_a_command() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP)
    writer.write(b"echo ::add-mask::not-a-command\n")
    assert plain(sink) == b"echo ::add-mask::not-a-command\n"
    assert not writer.masker.active


def test_add_mask_unescapes_workflow_command_data_for_multiline_values() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP)
    writer.write(b"::add-mask::first-line%0Asecond-line\nfirst-line | second-line\n")
    assert plain(sink) == f"::add-mask::{MASK}\n{MASK} | {MASK}\n".encode()


def test_strip_timestamps_gives_back_the_plain_output() -> None:
    sink = MemoryLogSink()
    writer = LogWriter(sink, RUN, STEP)
    output = b"2026-01-01T00:00:00.000000Z looks like a stamp\nplain\n\n"
    writer.write(output)
    assert strip_timestamps(stored(sink)) == output


def test_strip_timestamps_takes_lines_of_several_appends_and_a_cut_last_line() -> None:
    one, two = b"2026-11-27T07:20:25.123Z ", b"2026-11-27T07:20:25.124Z "
    assert strip_timestamps(one + b"a\n" + one + b"b\n") == b"a\nb\n"
    assert strip_timestamps(one + b"a\n" + two + b"b\n" + one + b"c\n") == b"a\nb\nc\n"
    assert strip_timestamps(one + b"a\n" + one + b"b") == b"a\nb"
    assert strip_timestamps(one + b"a\n" + one + b"\n" + b"unframed\n") == b"a\n\nunframed\n"
    assert strip_timestamps(b"") == b""


def test_parse_line_rejects_unframed_text() -> None:
    with pytest.raises(BadRequest):
        parse_line(b"no timestamp here\n")


def test_format_timestamp_treats_naive_time_as_utc() -> None:
    naive = START.replace(tzinfo=None)
    assert format_timestamp(naive) == b"2026-11-27T07:20:25.123Z"


def test_memory_stays_bounded_while_50_mb_flow_through() -> None:
    sink = DiscardSink()
    writer = LogWriter(sink, RUN, STEP, masker=Masker([f"secret-{i}-value" for i in range(10)]))
    chunk = b"".join(b"%08d line of build output, sort of\n" % i for i in range(1700))[: 64 * 1024]
    long_chunk = b"z" * (64 * 1024)  # one endless line too
    tracemalloc.start()
    try:
        for _ in range(400):
            writer.write(chunk)
        for _ in range(400):
            writer.write(long_chunk)
        writer.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.bytes > 50 * 1024 * 1024
    assert peak < 4 * 1024 * 1024
