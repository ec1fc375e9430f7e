"""What a step used: CPU seconds and peak memory from the kernel's accounting of the step's
process (``wait4``), its waited-for children included, recorded on the step's state."""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

from scd_engine.runtime.process import run_process
from test_runtime_steps import run_yaml


def _hungry_bytes() -> int:
    """More than this test process's own peak so far (a whole suite may have raised it past
    300 MiB): a figure not above the spawner's peak is reported unknown, by design."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return max(300 * 1024 * 1024, own + 128 * 1024 * 1024)


def _hungry() -> tuple[int, str]:
    """How much a hungry program touches, and its source: it touches every page of that
    many bytes, then spins the CPU for a while in the same process."""
    size = _hungry_bytes()
    return size, (
        f"import time; b = bytearray({size}); b[::4096] = b'x' * (len(b) // 4096);"
        " end = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    )


def test_a_process_reports_its_cpu_time_and_peak_memory(tmp_path: Path) -> None:
    hungry_bytes, hungry = _hungry()
    res = run_process(
        [sys.executable, "-c", hungry], sink=lambda _: None, env=dict(os.environ), cwd=tmp_path
    )
    assert res.code == 0
    assert res.cpu_seconds is not None
    assert res.cpu_seconds >= 0.3
    assert res.max_rss_bytes is not None
    assert res.max_rss_bytes >= hungry_bytes


def test_a_shells_children_are_counted_in_its_usage(tmp_path: Path) -> None:
    # bash waits for python: the kernel folds the child's usage into bash's
    hungry_bytes, hungry = _hungry()
    script = f'{sys.executable} -c "{hungry}"; echo done'
    res = run_process(
        ["bash", "-c", script], sink=lambda _: None, env=dict(os.environ), cwd=tmp_path
    )
    assert res.code == 0
    assert res.cpu_seconds is not None
    assert res.cpu_seconds >= 0.3
    assert res.max_rss_bytes is not None
    assert res.max_rss_bytes >= hungry_bytes


def test_a_peak_below_the_spawners_own_is_unknown_not_the_spawners(tmp_path: Path) -> None:
    # Linux starts an exec'd process's peak at its spawner's: "true" would seem as big
    res = run_process(["true"], sink=lambda _: None, env=dict(os.environ), cwd=tmp_path)
    assert res.code == 0
    assert res.max_rss_bytes is None
    assert res.cpu_seconds is not None
    assert res.cpu_seconds < 0.3


def test_each_run_step_records_what_it_used_and_a_skipped_step_nothing(tmp_path: Path) -> None:
    hungry_bytes, program = _hungry()
    (tmp_path / "hungry.py").write_text(program)
    text = (
        "steps:\n"
        "  - id: hungry\n    run: python3 hungry.py\n"
        "  - id: failing\n    run: exit 3\n"
        "  - id: never\n    run: echo no\n"
    )
    result, _, _ = run_yaml(tmp_path, text)
    hungry, failing, never = result.steps
    assert (hungry.status, failing.status, never.status) == ("success", "failure", "skipped")
    assert hungry.cpu_seconds is not None
    assert hungry.cpu_seconds >= 0.3
    assert hungry.max_rss_bytes is not None
    assert hungry.max_rss_bytes >= hungry_bytes
    assert failing.cpu_seconds is not None  # a failed step is measured too
    assert (never.cpu_seconds, never.max_rss_bytes) == (None, None)
