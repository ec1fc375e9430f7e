"""Run control: if/always/failure/cancelled, continue-on-error, timeout, cancel, kill."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scd_core.logs import strip_timestamps
from scd_core.models import StepState
from scd_core.sinks.memory import MemoryLogSink
from scd_engine.plan import compile_plan
from scd_engine.runtime import Runner, RunnerOptions, RunResult
from scd_engine.spec import load_pipeline


def run_yaml(
    workspace: Path, text: str, **kw: Any
) -> tuple[RunResult, Callable[[str], str], list[StepState]]:
    path = workspace / "serverless-pipeline.yaml"
    path.write_text(text)
    sink = MemoryLogSink()
    seen: list[StepState] = []
    observer = kw.pop("observer", seen.append)
    runner = Runner(RunnerOptions(workspace, sink=sink, run_id="r1", observers=[observer], **kw))
    result = runner.run(compile_plan(load_pipeline(path)).task("default"))

    def log(step: str) -> str:
        return strip_timestamps(sink.read("r1", step).data).decode()

    return result, log, seen


def statuses(result: RunResult) -> dict[str, tuple[str, str | None, str | None]]:
    return {s.id: (s.status, s.outcome, s.conclusion) for s in result.steps}


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_after_a_failure_only_failure_and_always_steps_run(tmp_path: Path) -> None:
    text = """
steps:
  - {id: ok, run: "true"}
  - {id: bad, run: exit 2}
  - {id: next, run: echo next}
  - {id: on-failure, if: "${{ failure() }}", run: echo failure-handler}
  - {id: on-always, if: "${{ always() }}", run: echo always}
  - {id: on-success, if: "${{ success() }}", run: echo success}
  - {id: plain-if, if: "${{ true }}", run: echo plain}
"""
    result, log, _ = run_yaml(tmp_path, text)
    assert result.status == "failure"
    assert statuses(result) == {
        "ok": ("success", "success", "success"),
        "bad": ("failure", "failure", "failure"),
        "next": ("skipped", "skipped", "skipped"),
        "on-failure": ("success", "success", "success"),
        "on-always": ("success", "success", "success"),
        "on-success": ("skipped", "skipped", "skipped"),
        "plain-if": ("skipped", "skipped", "skipped"),
    }
    assert log("on-failure") == "failure-handler\n"


def test_a_false_condition_skips_the_step_and_the_run_still_succeeds(tmp_path: Path) -> None:
    text = """
steps:
  - {id: a, if: "git.branch == 'main'", run: echo no}
  - {id: b, run: echo yes}
"""
    result, _, _ = run_yaml(tmp_path, text)
    assert result.status == "success"
    assert statuses(result)["a"][0] == "skipped"
    assert statuses(result)["b"][0] == "success"


def test_continue_on_error_keeps_failure_as_outcome_and_success_as_conclusion(
    tmp_path: Path,
) -> None:
    text = """
steps:
  - {id: flaky, run: exit 1, continue-on-error: true}
  - {id: flaky2, run: exit 1, continue-on-error: "${{ 1 == 1 }}"}
  - id: report
    run: echo "${{ steps.flaky.outcome }}/${{ steps.flaky.conclusion }}/${{ steps.flaky.status }}"
"""
    result, log, _ = run_yaml(tmp_path, text)
    assert result.status == "success"
    assert statuses(result)["flaky"] == ("failure", "failure", "success")
    assert statuses(result)["flaky2"] == ("failure", "failure", "success")
    assert log("report") == "failure/success/error-with-continue\n"


@pytest.mark.timeout(60)
def test_a_timed_out_step_fails_with_the_timeout_in_its_log(tmp_path: Path) -> None:
    text = """
steps:
  - {id: expr, run: sleep 60, timeout-minutes: "${{ 0.005 }}", continue-on-error: true}
  - {id: slow, run: sleep 60, timeout-minutes: 0.005}
  - {id: cleanup, if: "${{ always() }}", run: echo cleanup}
"""
    result, log, _ = run_yaml(tmp_path, text, grace=0.5)
    assert result.status == "failure"
    assert statuses(result)["slow"] == ("failure", "failure", "failure")
    assert "timed out after 0.005 minutes" in log("slow")
    assert "timed out after 0.005 minutes" in log("expr")
    assert statuses(result)["cleanup"][0] == "success"


@pytest.mark.timeout(60)
def test_cancel_from_another_thread_stops_the_step_and_only_always_or_cancelled_steps_run(
    tmp_path: Path,
) -> None:
    pidfile = tmp_path / "sleep.pid"
    cancel = threading.Event()

    def cancel_once_sleeping(state: StepState) -> None:
        if state.id == "long" and state.status == "running":

            def wait_then_cancel() -> None:
                while not (pidfile.exists() and pidfile.read_text().strip()):
                    time.sleep(0.01)
                cancel.set()

            threading.Thread(target=wait_then_cancel, daemon=True).start()

    text = f"""
steps:
  - {{id: long, run: "sleep 60 & echo $! > {pidfile}; wait"}}
  - {{id: after, run: echo after}}
  - {{id: on-failure, if: "${{{{ failure() }}}}", run: echo failure}}
  - {{id: on-always, if: "${{{{ always() }}}}", run: echo always-ran}}
  - {{id: on-cancel, if: "${{{{ cancelled() }}}}", run: sleep 0.3; echo cancelled-ran}}
"""
    result, log, _ = run_yaml(tmp_path, text, cancel=cancel, observer=cancel_once_sleeping, grace=5)
    assert result.status == "cancelled"
    assert statuses(result) == {
        "long": ("cancelled", "cancelled", "cancelled"),
        "after": ("cancelled", "cancelled", "cancelled"),
        "on-failure": ("cancelled", "cancelled", "cancelled"),
        "on-always": ("success", "success", "success"),
        "on-cancel": ("success", "success", "success"),
    }
    assert log("on-always") == "always-ran\n"
    assert log("on-cancel") == "cancelled-ran\n"
    pid = int(pidfile.read_text())
    end = time.monotonic() + 10
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.02)
    assert not alive(pid)


@pytest.mark.timeout(60)
def test_kill_stops_everything_including_always_steps(tmp_path: Path) -> None:
    holder: list[Runner] = []
    text = """
steps:
  - {id: stubborn, run: "trap '' TERM; sleep 60"}
  - {id: on-always, if: "${{ always() }}", run: echo always}
"""
    path = tmp_path / "serverless-pipeline.yaml"
    path.write_text(text)

    def kill_when_running(state: StepState) -> None:
        if state.id == "stubborn" and state.status == "running":
            threading.Timer(0.2, holder[0].kill).start()

    runner = Runner(
        RunnerOptions(
            tmp_path, sink=MemoryLogSink(), run_id="r1", observers=[kill_when_running], grace=60
        )
    )
    holder.append(runner)
    result = runner.run(compile_plan(load_pipeline(path)).task("default"))
    assert result.status == "cancelled"
    assert [s.status for s in result.steps] == ["cancelled", "cancelled"]


def test_background_processes_of_a_step_live_until_the_run_ends(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    text = f"""
steps:
  - {{id: start, run: "sleep 60 > /dev/null 2>&1 & echo $! > {pidfile}"}}
  - {{id: check, run: "kill -0 $(cat {pidfile}) && echo still-running"}}
"""
    result, log, _ = run_yaml(tmp_path, text)
    assert result.status == "success"
    assert log("check") == "still-running\n"
    pid = int(pidfile.read_text())
    end = time.monotonic() + 10
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.02)
    assert not alive(pid)


def test_observer_sees_pending_then_running_then_final_for_each_step(tmp_path: Path) -> None:
    text = "steps:\n  - {id: a, run: 'true'}\n  - {id: b, if: 'false', run: 'true'}\n"
    _, _, seen = run_yaml(tmp_path, text)
    assert [(s.id, s.status) for s in seen] == [
        ("a", "pending"),
        ("b", "pending"),
        ("a", "running"),
        ("a", "success"),
        ("b", "skipped"),
    ]
    final = seen[3]
    assert final.started_at is not None
    assert final.finished_at is not None


def test_temp_dirs_left_by_a_dead_runner_process_are_swept_at_the_next_run(
    tmp_path: Path,
) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    root = tmp_path / "tmproot"
    root.mkdir()
    stale = root / f"scd-run-{dead.pid}-abc"
    stale.mkdir()
    (stale / "step-0.sh").write_text("echo old")
    mine = root / "unrelated-dir"
    mine.mkdir()
    path = tmp_path / "serverless-pipeline.yaml"
    path.write_text("steps:\n  - run: 'true'\n")
    result = Runner(RunnerOptions(tmp_path, sink=MemoryLogSink(), run_id="r1", tmp_root=root)).run(
        compile_plan(load_pipeline(path)).task("default")
    )
    assert result.status == "success"
    assert not stale.exists()
    assert mine.exists()
    assert [p.name for p in root.iterdir()] == ["unrelated-dir"]
