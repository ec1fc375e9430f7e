"""SCD_LOG_SINK reaches every process that writes or reads logs: the worker, ``scd serve``
and the workers it starts, and the trigger's log API."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from scd_core.settings import Settings
from scd_core.sinks import FileLogSink, MemoryLogSink

from functions.serve.defaults import ConfigChoice
from functions.serve.server import _settings, _worker_env
from functions.trigger.testing import serve
from functions.worker.app import WorkerState, create_app


def test_the_worker_writes_to_the_sink_scd_log_sink_names(tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared-logs"
    settings = Settings(data_dir=tmp_path / "data", log_sink=f"file:///{elsewhere}")
    state = WorkerState(settings)
    try:
        sink = state.env().sink
        assert isinstance(sink, FileLogSink)
        sink.append("run-1", "setup", b"cloning\n")
        assert (elsewhere / "run-1" / "setup.log").read_bytes() == b"cloning\n"
        assert not (tmp_path / "data" / "logs" / "run-1").exists()
    finally:
        state.close()


def test_the_worker_defaults_to_logs_in_its_data_dir(tmp_path: Path) -> None:
    state = WorkerState(Settings(data_dir=tmp_path, store="memory://", log_sink="memory://"))
    try:
        assert isinstance(state.env().sink, MemoryLogSink)
    finally:
        state.close()
    default = WorkerState(Settings(data_dir=tmp_path))
    try:
        sink = default.env().sink
        assert isinstance(sink, FileLogSink)
        assert sink.root == tmp_path / "logs"
    finally:
        default.close()


def test_a_worker_with_an_unknown_sink_fails_initialize_naming_the_variable(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, log_sink="s3://bucket/logs?region=cn-hangzhou")
    with serve(create_app(settings)) as url:
        answer = httpx.post(f"{url}/initialize", timeout=30)
    assert answer.status_code == 500
    assert answer.headers["x-fc-status"] == "404"
    assert "SCD_LOG_SINK" in answer.json()["error"]
    assert "unknown scheme 's3'" in answer.json()["error"]


def test_serve_derives_the_sink_from_its_data_dir_and_hands_it_to_workers(
    tmp_path: Path,
) -> None:
    choice = ConfigChoice(path=tmp_path / "scd.yaml", embedded=False)
    settings = _settings({}, choice, tmp_path)
    assert settings.log_sink == f"file:///{tmp_path / 'logs'}"
    assert _worker_env({}, settings)["SCD_LOG_SINK"] == settings.log_sink
    named = _settings({"SCD_LOG_SINK": "file:///nas/logs"}, choice, tmp_path)
    assert named.log_sink == "file:///nas/logs"
    assert _worker_env(dict(os.environ), named)["SCD_LOG_SINK"] == "file:///nas/logs"
