"""The file sink's cheaper bookkeeping: a cached index descriptor that never goes stale."""

from __future__ import annotations

import shutil
from pathlib import Path

from scd_core.sinks.file import FileLogSink

RUN = "run-1"


def test_a_removed_run_directory_gets_a_fresh_index_when_the_run_logs_again(
    tmp_path: Path,
) -> None:
    sink = FileLogSink(tmp_path)
    sink.append(RUN, "a", b"x\n")
    sink.close(RUN, "a")
    shutil.rmtree(tmp_path / RUN)
    sink.append(RUN, "b", b"y\n")
    sink.close(RUN, "b")
    assert sink.steps(RUN) == ["b"]
    assert FileLogSink(tmp_path).read(RUN, "b").closed


def test_every_new_log_adds_one_index_line_even_past_the_descriptor_caches(
    tmp_path: Path,
) -> None:
    sink = FileLogSink(tmp_path)
    runs = [f"r{i}" for i in range(20)]  # more runs than index descriptors are kept
    for step in ("one", "two"):
        for run in runs:
            sink.close(run, step)
    for run in runs:
        assert (tmp_path / run / "steps").read_text() == "one\ntwo\n"
        assert sink.read(run, "two").closed


def test_closing_a_log_another_sink_created_marks_it_closed_without_a_second_index_line(
    tmp_path: Path,
) -> None:
    writer, closer = FileLogSink(tmp_path), FileLogSink(tmp_path)
    writer.append(RUN, "s", b"x\n")
    closer.close(RUN, "s")
    closer.close(RUN, "s")
    assert writer.read(RUN, "s").closed
    assert (tmp_path / RUN / "steps").read_text() == "s\n"
