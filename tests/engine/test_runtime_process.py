"""Process handling: own process group, merged output, timeout, cancel, kill, stray pipes."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest
from scd_engine.runtime.process import run_process


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone: it runs nothing)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid: int, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


def wait_file(path: Path, seconds: float = 10.0) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def run(tmp_path: Path, script: str, **kw: object) -> tuple[int, bool, bool, bytes]:
    chunks: list[bytes] = []
    res = run_process(
        ["bash", "-c", script],
        sink=chunks.append,
        env=dict(os.environ),
        cwd=tmp_path,
        **kw,  # type: ignore[arg-type]
    )
    return res.code, res.timed_out, res.cancelled, b"".join(chunks)


def test_stdout_and_stderr_arrive_merged_with_the_exit_code(tmp_path: Path) -> None:
    code, timed_out, cancelled, out = run(tmp_path, "echo out; echo err >&2; exit 4")
    assert (code, timed_out, cancelled) == (4, False, False)
    assert out == b"out\nerr\n"


def test_large_output_is_passed_through_whole(tmp_path: Path) -> None:
    code, _, _, out = run(tmp_path, "head -c 3000000 /dev/zero | tr '\\0' 'a'")
    assert code == 0
    assert len(out) == 3_000_000


def test_the_step_runs_in_its_own_process_group(tmp_path: Path) -> None:
    _, _, _, out = run(tmp_path, "ps -o pgid= -p $$; ps -o pid= -p $$")
    pgid, pid = out.split()
    assert pgid == pid
    assert int(pgid) != os.getpgid(0)


@pytest.mark.timeout(30)
def test_timeout_terminates_the_group_including_grandchildren(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    code, timed_out, _, _ = run(
        tmp_path, f"sleep 60 & echo $! > {pidfile}; wait", timeout=0.5, grace=5.0
    )
    assert timed_out
    assert code != 0
    assert wait_gone(int(pidfile.read_text()))


@pytest.mark.timeout(30)
def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    code, timed_out, _, out = run(
        tmp_path,
        "trap 'echo got-term' TERM; while true; do sleep 0.05; done",
        timeout=0.3,
        grace=0.3,
    )
    assert timed_out
    assert code == -9
    assert b"got-term" in out


@pytest.mark.timeout(30)
def test_cancel_from_another_thread_stops_a_long_sleep_and_leaves_nothing(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    cancel = threading.Event()

    def cancel_when_started() -> None:
        wait_file(pidfile)
        cancel.set()

    threading.Thread(target=cancel_when_started, daemon=True).start()
    _, timed_out, cancelled, _ = run(
        tmp_path, f"sleep 60 & echo $! > {pidfile}; wait", cancel=cancel, grace=5.0
    )
    assert cancelled
    assert not timed_out
    assert wait_gone(int(pidfile.read_text()))


@pytest.mark.timeout(30)
def test_kill_event_stops_at_once_without_waiting_for_the_grace(tmp_path: Path) -> None:
    kill = threading.Event()
    kill.set()
    code, _, cancelled, _ = run(tmp_path, "trap '' TERM; sleep 60", kill=kill, grace=60.0)
    assert cancelled
    assert code == -9


@pytest.mark.timeout(30)
def test_a_grandchild_outside_the_group_holding_the_pipe_does_not_hang_the_reader(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "pid"
    escape = (
        f"{sys.executable} -c 'import os, time; os.setsid(); "
        f'open("{pidfile}", "w").write(str(os.getpid())); time.sleep(60)\' &'
    )
    try:
        code, _, _, _ = run(tmp_path, f"{escape}\nwhile [ ! -s {pidfile} ]; do sleep 0.01; done")
        assert code == 0
    finally:
        os.kill(int(wait_file(pidfile)), 9)


@pytest.mark.timeout(30)
def test_a_timed_out_step_whose_grandchild_left_the_group_still_returns(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    escape = (
        f"{sys.executable} -c 'import os, time; os.setsid(); "
        f'open("{pidfile}", "w").write(str(os.getpid())); time.sleep(60)\' &'
    )
    try:
        _, timed_out, _, _ = run(tmp_path, f"{escape}\nsleep 60", timeout=0.5, grace=0.2)
        assert timed_out
    finally:
        os.kill(int(wait_file(pidfile)), 9)


def test_a_missing_program_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        run_process(["/nonexistent/shell"], sink=print, env={}, cwd=tmp_path)
