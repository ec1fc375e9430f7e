"""The SLS sink beyond the conformance suite: indexing delay, SLS's request limits, pieces,
bytes that are not UTF-8, the index and retention, the sls:// URL, and a live run."""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid

import pytest
from scd_core.errors import BackendError, ConfigError, Conflict, NotFound
from scd_core.sinks import open_sink
from scd_core.sinks.sls import FIELDS, PIECE, SlsLogSink, ensure_index
from scd_core.sinks.slsdouble import SlsDouble

RUN, STEP = "run-1", "build"
WAIT = 20.0


def _double(delay: float = 0.0) -> SlsDouble:
    double = SlsDouble(indexing_delay=delay)
    double.create_logstore("scd", "logs")
    ensure_index(double, "scd", "logs", 30)
    return double


def test_lines_are_unsearchable_until_indexed_then_a_follower_sees_them() -> None:
    double = _double(delay=0.6)
    writer = SlsLogSink(double, "scd", "logs")
    reader = SlsLogSink(double, "scd", "logs", follow_interval=0.2)
    writer.append(RUN, STEP, b"one\n")
    with pytest.raises(NotFound):
        reader.read(RUN, STEP)  # not indexed yet: the log does not exist for readers
    received: queue.Queue[bytes | None] = queue.Queue()
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            follower = reader.follow(RUN, STEP)
            break
        except NotFound:
            time.sleep(0.1)

    def drain() -> None:
        for data in follower:
            received.put(data)
        received.put(None)

    threading.Thread(target=drain, daemon=True).start()
    assert received.get(timeout=WAIT) == b"one\n"
    writer.append(RUN, STEP, b"two\n")
    assert received.get(timeout=WAIT) == b"two\n"
    writer.close(RUN, STEP)
    assert received.get(timeout=WAIT) is None


def test_a_big_append_is_split_into_requests_within_the_limits() -> None:
    double = _double()
    sink = SlsLogSink(double, "scd", "logs")
    lines = b"".join(b"line %05d\n" % i for i in range(10_000))
    sink.append(RUN, STEP, lines)
    assert double.puts == 3  # 10,001 entries (with the open marker), 4,096 a request
    assert sink.read(RUN, STEP).data == lines


def test_a_long_line_is_stored_in_pieces_and_read_back_whole() -> None:
    sink = SlsLogSink(_double(), "scd", "logs")
    long_line = b"z" * (PIECE * 2 + 10) + b"\n"
    sink.append(RUN, STEP, b"before\n" + long_line + b"after\n")
    assert sink.read(RUN, STEP).data == b"before\n" + long_line + b"after\n"
    cut = sink.read(RUN, STEP, 7 + 100, limit=50)  # a read that starts inside a piece
    assert cut.data == b"z" * 50


def test_bytes_that_are_not_utf8_survive() -> None:
    sink = SlsLogSink(_double(), "scd", "logs")
    sink.append(RUN, STEP, b"caf\xe9 \xff\n")
    assert sink.read(RUN, STEP).data == b"caf\xe9 \xff\n"


def test_another_sink_resumes_an_open_log_and_refuses_a_closed_one() -> None:
    double = _double()
    first, second = SlsLogSink(double, "scd", "logs"), SlsLogSink(double, "scd", "logs")
    first.append(RUN, STEP, b"a\n")
    second.append(RUN, STEP, b"b\n")
    second.close(RUN, STEP)
    assert first.read(RUN, STEP).data == b"a\nb\n"
    with pytest.raises(Conflict):
        SlsLogSink(double, "scd", "logs").append(RUN, STEP, b"late\n")


def test_ensure_index_indexes_the_fields_and_sets_retention_twice_safely() -> None:
    double = SlsDouble()
    double.create_logstore("scd", "logs")
    ensure_index(double, "scd", "logs", 30)
    ensure_index(double, "scd", "logs", 7)
    index, ttl = double.index_of("scd", "logs")
    assert index == FIELDS
    assert ttl == 7


def test_without_an_index_reads_fail_as_a_backend_error() -> None:
    double = SlsDouble()
    double.create_logstore("scd", "logs")
    sink = SlsLogSink(double, "scd", "logs")
    with pytest.raises(BackendError, match="IndexConfigNotExist"):
        sink.read(RUN, STEP)


def test_open_sink_builds_an_sls_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret-value")
    sink = open_sink("sls://my-project/scd-logs?region=cn-hangzhou")
    assert isinstance(sink, SlsLogSink)
    assert (sink.project, sink.logstore) == ("my-project", "scd-logs")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("sls://my-project/scd-logs", "needs region="),
        ("sls://my-project/?region=cn-hangzhou", "not an SLS logstore name"),
        ("sls://My_Project/logs?region=cn-hangzhou", "not an SLS project name"),
        ("sls://my-project/logs?region=cn-hangzhou&proxy=http://x", "unknown option(s) proxy"),
    ],
)
def test_bad_sls_urls_fail_start_up_naming_the_variable(
    url: str, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "secret-value")
    with pytest.raises(ConfigError) as caught:
        open_sink(url)
    assert str(caught.value).startswith("SCD_LOG_SINK: ")
    assert why in str(caught.value)
    assert "secret-value" not in str(caught.value)


LIVE = os.environ.get("SCD_LIVE_SLS")  # sls://PROJECT/LOGSTORE?region=... with an indexed store


@pytest.mark.live
@pytest.mark.skipif(
    not (LIVE and os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")),
    reason="set SCD_LIVE_SLS and ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET to run against SLS",
)
def test_live_sls_round_trip() -> None:
    assert LIVE is not None
    sink = open_sink(LIVE)
    run = f"live-{uuid.uuid4().hex[:12]}"
    sink.append(run, STEP, b"hello from scd\n")
    sink.close(run, STEP)
    deadline, chunk = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        try:
            chunk = sink.read(run, STEP)
            if chunk.closed:
                break
        except NotFound:
            pass  # not indexed yet
        time.sleep(1)
    assert chunk is not None
    assert (chunk.data, chunk.closed) == (b"hello from scd\n", True)
