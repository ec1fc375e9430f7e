"""A step that never stops printing is still stopped by its timeout, a cancel or a kill."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from scd_engine.runtime.process import run_process

# Before the fix these hung: output kept the loop from ever checking the clock.
pytestmark = pytest.mark.timeout(60)

FLOOD = ["bash", "-c", "while :; do echo flood; done"]


def test_a_step_printing_without_pause_still_times_out(tmp_path: Path) -> None:
    received: list[bytes] = []
    res = run_process(
        FLOOD, sink=received.append, env=dict(os.environ), cwd=tmp_path, timeout=0.5, grace=1
    )
    assert res.timed_out
    assert received


def test_a_step_printing_without_pause_still_stops_on_cancel(tmp_path: Path) -> None:
    cancel = threading.Event()
    received: list[bytes] = []

    def sink(data: bytes) -> None:
        received.append(data)
        cancel.set()  # asked while output is still pouring in

    res = run_process(FLOOD, sink=sink, env=dict(os.environ), cwd=tmp_path, cancel=cancel, grace=1)
    assert res.cancelled
    assert res.code < 0


def test_a_step_printing_without_pause_in_scds_own_directory_stops_on_kill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path.resolve())  # the posix_spawn path
    kill = threading.Event()

    def sink(data: bytes) -> None:
        kill.set()

    res = run_process(FLOOD, sink=sink, env=dict(os.environ), cwd=tmp_path.resolve(), kill=kill)
    assert res.cancelled
