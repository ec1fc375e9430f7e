"""Steps in scd's own directory start through posix_spawn and see what Popen would give."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from scd_engine.runtime import process
from scd_engine.runtime.process import run_process


@pytest.fixture
def spawns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run in ``tmp_path`` (the spawn path's condition) and record posix_spawn calls."""
    if not process._SPAWN or not Path("/proc/self/fd").is_dir():
        pytest.skip("no posix_spawn or no /proc here: steps start through Popen")
    monkeypatch.chdir(tmp_path.resolve())
    seen: list[str] = []
    for name in ("posix_spawn", "posix_spawnp"):
        real = getattr(os, name)

        def spy(path: str, *args: object, real: Any = real, **kwargs: object) -> int:
            seen.append(path)
            result: int = real(path, *args, **kwargs)
            return result

        monkeypatch.setattr(os, name, spy)
    return seen


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    chunks: list[bytes] = []
    res = run_process(argv, sink=chunks.append, env=env or dict(os.environ), cwd=cwd)
    return res.code, b"".join(chunks).decode()


def test_a_step_in_the_current_directory_is_spawned_with_merged_output(
    tmp_path: Path, spawns: list[str]
) -> None:
    code, out = run(["bash", "-c", "echo out; echo err >&2; exit 3"], tmp_path.resolve())
    assert (code, out) == (3, "out\nerr\n")
    assert spawns == ["bash"]


def test_a_spawned_step_leads_its_own_session_and_reads_dev_null(
    tmp_path: Path, spawns: list[str]
) -> None:
    script = "import os; print(os.getsid(0) == os.getpid(), repr(open(0).read()))"
    code, out = run([sys.executable, "-c", script], tmp_path.resolve())
    assert (code, out) == (0, "True ''\n")
    assert spawns == [sys.executable]


def test_a_spawned_step_gets_sigpipe_back_at_its_default(tmp_path: Path, spawns: list[str]) -> None:
    assert signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN  # ours, as Python sets it
    code, out = run(["grep", "SigIgn", "/proc/self/status"], tmp_path.resolve())
    assert code == 0
    ignored = int(out.split()[1], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1))


def test_a_spawned_step_inherits_no_descriptor_beyond_the_standard_three(
    tmp_path: Path, spawns: list[str]
) -> None:
    read_end, write_end = os.pipe()
    leaked = os.dup2(write_end, 57)  # dup2 makes an inheritable descriptor
    try:
        script = "import os; print(sorted(int(n) for n in os.listdir('/proc/self/fd')))"
        code, out = run([sys.executable, "-c", script], tmp_path.resolve())
    finally:
        for fd in (read_end, write_end, leaked):
            os.close(fd)
    assert code == 0
    assert 57 not in eval(out)  # a list of ints the step printed
    assert spawns


def test_a_spawned_step_finds_its_program_on_the_steps_own_path(
    tmp_path: Path, spawns: list[str]
) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "hello-tool").write_text("#!/bin/sh\necho tool says hi\n")
    (tools / "hello-tool").chmod(0o755)
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"}
    assert run(["hello-tool"], tmp_path.resolve(), env) == (0, "tool says hi\n")
    assert spawns == [str(tools / "hello-tool")]


def test_a_spawned_step_killed_by_a_signal_has_a_negative_code(
    tmp_path: Path, spawns: list[str]
) -> None:
    assert run(["bash", "-c", "kill -TERM $$"], tmp_path.resolve())[0] == -signal.SIGTERM


def test_a_missing_program_in_the_current_directory_still_raises_oserror(
    tmp_path: Path, spawns: list[str]
) -> None:
    with pytest.raises(OSError, match="no-such-program"):
        run(["no-such-program-scd"], tmp_path.resolve())


def test_a_step_in_another_directory_starts_through_popen(
    tmp_path: Path, spawns: list[str]
) -> None:
    other = tmp_path / "sub"
    other.mkdir()
    assert run(["bash", "-c", "pwd"], other.resolve()) == (0, f"{other.resolve()}\n")
    assert spawns == []


@pytest.mark.timeout(30)
def test_a_spawned_step_whose_grandchild_keeps_the_pipe_still_returns(
    tmp_path: Path, spawns: list[str]
) -> None:
    pidfile = tmp_path / "pid"
    escape = (
        f"{sys.executable} -c 'import os, time; os.setsid(); "
        f'open("{pidfile}", "w").write(str(os.getpid())); time.sleep(60)\' &'
    )
    script = f"{escape}\nwhile [ ! -s {pidfile} ]; do sleep 0.01; done"
    try:
        assert run(["bash", "-c", script], tmp_path.resolve())[0] == 0
        assert spawns == ["bash"]
    finally:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)


@pytest.mark.timeout(30)
def test_a_spawned_step_times_out_and_its_group_is_gone(tmp_path: Path, spawns: list[str]) -> None:
    chunks: list[bytes] = []
    res = run_process(
        ["bash", "-c", "sleep 60 & echo $!; wait"],
        sink=chunks.append,
        env=dict(os.environ),
        cwd=tmp_path.resolve(),
        timeout=0.3,
        grace=0.2,
    )
    assert res.timed_out
    sleeper = int(b"".join(chunks).split()[0])
    assert gone(sleeper)


def gone(pid: int, seconds: float = 10.0) -> bool:
    """True once ``pid`` no longer runs (a zombie runs nothing)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.02)
    return False
