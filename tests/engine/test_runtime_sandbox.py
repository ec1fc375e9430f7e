"""A sandboxed step sees its workspace and the system, not scd's data dir, other runs'
workspaces or logs (bubblewrap; skipped where it cannot run)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from scd_core.logs import strip_timestamps
from scd_core.models import DEFAULT_TASK
from scd_core.sinks.memory import MemoryLogSink
from scd_engine.plan import compile_plan
from scd_engine.runtime import Runner, RunnerOptions, RunResult
from scd_engine.runtime.sandbox import find_sandbox
from scd_engine.spec import load_pipeline

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


def _run_sandboxed(data: Path, text: str, cancel: threading.Event | None = None) -> tuple[
    RunResult, MemoryLogSink
]:
    workspace = data / "work" / "mine"
    (workspace / "serverless-pipeline.yaml").write_text(text)
    task = compile_plan(load_pipeline(workspace / "serverless-pipeline.yaml")).task(DEFAULT_TASK)
    sink = MemoryLogSink()
    options = RunnerOptions(
        workspace, sink=sink, run_id="r1", sandbox=SANDBOX, hidden=(data,), cancel=cancel,
        grace=1.0,
    )  # fmt: skip
    return Runner(options).run(task), sink


def _log(sink: MemoryLogSink, step: str) -> str:
    return strip_timestamps(sink.read("r1", step).data).decode()


def test_steps_of_a_sandboxed_run_work_but_cannot_read_scds_state(data_dir: Path) -> None:
    text = (
        "steps:\n"
        "  - id: peek\n"
        f"    run: cat {data_dir / 'scd.db'} || echo refused\n"
        "  - id: out\n"
        '    run: echo "v=built" >> "$SCD_OUTPUT"\n'
        "  - id: py\n"
        "    script: print('from python', steps.out.outputs.v)\n"
    )
    result, sink = _run_sandboxed(data_dir, text)
    assert result.status == "success"
    assert "refused" in _log(sink, "peek")
    assert "tokens" not in _log(sink, "peek")
    assert _log(sink, "py") == "from python built\n"


def test_a_cancel_reaches_a_sandboxed_step(data_dir: Path) -> None:
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    result, _ = _run_sandboxed(data_dir, "steps:\n  - id: nap\n    run: sleep 60\n", cancel)
    assert result.status == "cancelled"


def test_a_sandboxed_step_cannot_read_other_processes_environment(data_dir: Path) -> None:
    text = "steps:\n  - id: procs\n    run: ls /proc | grep -c '^[0-9]' || true\n"
    result, sink = _run_sandboxed(data_dir, text)
    assert result.status == "success"
    assert int(_log(sink, "procs").strip()) < 10  # only its own few processes


def test_the_steps_of_a_sandboxed_run_share_their_tmp(data_dir: Path) -> None:
    text = (
        "steps:\n  - run: echo kept > /tmp/handoff.txt\n"
        "  - id: read\n    run: cat /tmp/handoff.txt\n"
    )
    result, sink = _run_sandboxed(data_dir, text)
    assert result.status == "success"
    assert _log(sink, "read") == "kept\n"


def test_git_works_in_a_sandboxed_checkout_that_borrows_from_its_mirror(data_dir: Path) -> None:
    import os as _os

    env = {**_os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t.invalid"}  # fmt: skip
    source = data_dir.parent / "source"
    subprocess.run(["git", "init", "-q", "-b", "main", str(source)], check=True)
    (source / "README").write_text("hi\n")
    subprocess.run(["git", "-C", str(source), "add", "."], check=True)
    subprocess.run(["git", "-C", str(source), "commit", "-qm", "one"], check=True, env=env)
    mirrors = data_dir / "cache" / "mirrors"
    mirrors.mkdir(parents=True)
    mirror, other = mirrors / "mine.git", mirrors / "other.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(mirror)], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(other)], check=True)
    workspace = data_dir / "work" / "mine"
    subprocess.run(["git", "clone", "-q", "--shared", str(mirror), str(workspace)], check=True)
    text = (
        "steps:\n  - id: head\n    run: git rev-parse HEAD && git log --oneline | wc -l\n"
        f"  - id: other\n    run: ls {other} || echo hidden\n"
    )
    result, sink = _run_sandboxed(data_dir, text)
    assert result.status == "success", _log(sink, "head")
    assert _log(sink, "head").splitlines()[1] == "1"
    assert "hidden" in _log(sink, "other")
