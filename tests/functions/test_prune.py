"""scd prune and the daily prune of scd serve: what is old goes, what is in use stays."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest
from scd_core.errors import BadRequest
from scd_core.invokers.queue import TaskQueue
from scd_core.settings import Settings
from scd_core.sinks.file import FileLogSink
from typer.testing import CliRunner

from functions.cli import build_app
from functions.commands.prune import log_dir
from functions.serve.prune import DAY, Pruner, PruneReport, parse_age, prune
from functions.serve.server import ServeOptions, _pruner

OLD = time.time() - 40 * DAY


def _age(path: Path, when: float = OLD) -> None:
    """Set the mtime of ``path`` and everything under it to ``when``."""
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.utime(Path(root) / name, (when, when))
    os.utime(path, (when, when))


def _data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    sink = FileLogSink(data / "logs")
    for run in ("old-run", "new-run"):
        sink.append(run, "build", b"x\n")
        sink.close(run, "build")
    for name in ("old-ws", "new-ws"):
        (data / "work" / name).mkdir(parents=True)
        (data / "work" / name / "file.txt").write_text("x")
    for name in ("a" * 64, "b" * 64):
        (data / "cache" / "mirrors" / name / "objects").mkdir(parents=True)
        (data / "cache" / "mirrors" / name / "FETCH_HEAD").write_text("sha\n")
    _age(data / "logs" / "old-run")
    _age(data / "work" / "old-ws")
    _age(data / "cache" / "mirrors" / ("a" * 64))
    return data


def test_prune_removes_what_was_unused_that_long_and_keeps_the_rest(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    report = prune(data, 30 * DAY, log_dir=data / "logs")
    assert (report.logs, report.workspaces, report.mirrors) == (1, 1, 1)
    assert sorted(p.name for p in (data / "logs").iterdir()) == ["new-run"]
    assert sorted(p.name for p in (data / "work").iterdir()) == ["new-ws"]
    assert [p.name for p in (data / "cache" / "mirrors").iterdir() if p.is_dir()] == ["b" * 64]
    assert prune(data, 30 * DAY, log_dir=data / "logs").summary().startswith("removed 0 run")


def test_a_recently_written_file_keeps_an_old_run_directory(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    os.utime(data / "logs" / "old-run" / "build.log", None)  # written just now
    assert prune(data, 30 * DAY, log_dir=data / "logs").logs == 0


def test_logs_elsewhere_are_left_to_their_own_lifecycle(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    assert prune(data, 30 * DAY, log_dir=None).logs == 0
    assert (data / "logs" / "old-run").is_dir()
    assert log_dir(data, "oss://bucket/logs?region=cn-hangzhou") is None
    assert log_dir(data, None) == data / "logs"
    assert log_dir(data, "file:////mnt/nas/logs") == Path("/mnt/nas/logs")


def test_a_mirror_in_use_is_skipped(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    mirror = data / "cache" / "mirrors" / ("a" * 64)
    with open(mirror.with_name(mirror.name + ".lock"), "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)  # a checkout holds it
        assert prune(data, 30 * DAY, log_dir=None).mirrors == 0
    assert mirror.is_dir()
    assert prune(data, 30 * DAY, log_dir=None).mirrors == 1


def test_finished_queue_tasks_that_ended_long_ago_are_removed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    queue = TaskQueue(data / "queue.db", function_arn="test")
    try:
        for task in ("old-done", "new-done", "old-queued"):
            queue.enqueue(task, "{}", OLD)
        queue.stop("old-done", OLD)
        queue.stop("new-done", time.time())
    finally:
        queue.close()
    assert prune(data, 30 * DAY, log_dir=None).queue_tasks == 1
    queue = TaskQueue(data / "queue.db", function_arn="test")
    try:
        assert queue.get("old-done") is None
        assert queue.get("new-done") is not None
        assert queue.get("old-queued") is not None  # not finished: never pruned
    finally:
        queue.close()


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * DAY), ("12h", 43200), ("90m", 5400)])
def test_ages_read_with_a_unit(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "0d", "-1d", "3w", "1.5d"])
def test_bad_ages_are_refused(text: str) -> None:
    with pytest.raises(BadRequest, match="30d"):
        parse_age(text)


def test_scd_prune_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data_dir(tmp_path)
    monkeypatch.delenv("SCD_LOG_SINK", raising=False)
    result = CliRunner().invoke(
        build_app(), ["prune", "--older-than", "30d", "--data-dir", str(data)]
    )
    assert result.exit_code == 0, result.output
    assert "removed 1 run log(s), 1 workspace(s), 1 git mirror(s)" in result.output
    bad = CliRunner().invoke(
        build_app(), ["prune", "--older-than", "soon", "--data-dir", str(data)]
    )
    assert bad.exit_code == 2
    assert "scd prune:" in bad.output


def test_the_pruner_runs_every_interval_until_stopped_and_survives_a_failure() -> None:
    calls: list[float] = []
    ran_three = threading.Event()

    def run() -> PruneReport:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise OSError("disk trouble")
        if len(calls) >= 3:
            ran_three.set()
        return PruneReport()

    pruner = Pruner(run, interval=0.05)
    pruner.start()
    assert ran_three.wait(20.0)
    pruner.stop()
    count = len(calls)
    time.sleep(0.2)
    assert len(calls) == count  # stopped: no more runs
    assert pruner.runs >= 2  # the failing run is not counted, the next ones are


def test_scd_serve_prunes_its_data_dir_on_its_interval(tmp_path: Path) -> None:
    data = _data_dir(tmp_path)
    settings = Settings(data_dir=data)
    pruner = _pruner(settings, ServeOptions(data_dir=data, prune_every_s=0.05))
    pruner.start()
    try:
        deadline = time.monotonic() + 20.0
        while (data / "logs" / "old-run").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        pruner.stop()
    assert not (data / "logs" / "old-run").exists()
    assert (data / "logs" / "new-run").exists()
