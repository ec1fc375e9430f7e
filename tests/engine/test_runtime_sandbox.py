"""A sandboxed step sees its workspace and the system, not scd's data dir, other runs'
workspaces or logs (bubblewrap; skipped where it cannot run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from scd_engine.runtime.sandbox import find_sandbox

SANDBOX = find_sandbox()
pytestmark = pytest.mark.skipif(SANDBOX is None, reason="bubblewrap (bwrap) cannot run here")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "work" / "mine").mkdir(parents=True)
    (data / "work" / "theirs").mkdir(parents=True)
    (data / "logs").mkdir()
    (data / "scd.db").write_text("every app's runs and tokens")
    (data / "work" / "theirs" / "secret.txt").write_text("another app's checkout")
    (data / "logs" / "run.log").write_text("another run's log")
    return data


def _run(data: Path, script: str) -> subprocess.CompletedProcess[str]:
    assert SANDBOX is not None
    workspace = data / "work" / "mine"
    argv = SANDBOX.wrap(["/bin/sh", "-c", script], workspace=workspace, cwd=workspace,
                        hidden=[data])  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_a_sandboxed_step_cannot_read_the_database_other_workspaces_or_logs(
    data_dir: Path,
) -> None:
    for target in ("scd.db", "work/theirs/secret.txt", "logs/run.log"):
        done = _run(data_dir, f"cat {data_dir / target}")
        assert done.returncode != 0, target
        assert "another" not in done.stdout
        assert "tokens" not in done.stdout
    listing = _run(data_dir, f"ls -a {data_dir / 'work'}")
    assert "theirs" not in listing.stdout


def test_a_sandboxed_step_works_in_its_workspace_with_the_system_tools(data_dir: Path) -> None:
    done = _run(data_dir, "echo built > out.txt && cat out.txt && git --version && ls /tmp")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("built\ngit version")
    assert (data_dir / "work" / "mine" / "out.txt").read_text() == "built\n"


def test_a_sandboxed_step_cannot_see_the_servers_home(data_dir: Path) -> None:
    home = Path.home()
    done = _run(data_dir, f"ls {home}")
    assert done.returncode != 0 or done.stdout.strip() == ""


def test_the_interpreter_running_scd_works_inside_the_sandbox(data_dir: Path) -> None:
    done = _run(data_dir, f"{sys.executable} -c 'import scd_engine; print(1 + 1)'")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2\n"
