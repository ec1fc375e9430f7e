"""``scd run`` through the real console script: output, exit codes, --json, options, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

SCD = Path(sys.executable).parent / "scd"


def scd(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    if not SCD.exists():
        pytest.skip(f"console script not installed at {SCD}")
    return subprocess.run(
        [str(SCD), "run", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def write(cwd: Path, text: str, name: str = "serverless-pipeline.yaml") -> None:
    (cwd / name).write_text(textwrap.dedent(text))


def summary(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def test_a_successful_run_shows_headers_and_log_lines_and_exits_zero(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  - {name: Say hello, run: echo hello-from-step}\n")
    proc = scd(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "▶ Say hello" in proc.stdout
    assert "hello-from-step" in proc.stdout
    assert "✓ Say hello" in proc.stdout
    assert "run success" in proc.stdout


def test_console_lines_keep_text_that_looks_like_the_end_of_a_timestamp(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  - run: printf 'AZ one\\nAZ two\\n'\n")
    proc = scd(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "AZ one" in proc.stdout
    assert "AZ two" in proc.stdout


def test_a_failing_run_exits_one(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  - run: exit 3\n")
    proc = scd(tmp_path)
    assert proc.returncode == 1
    assert "✗" in proc.stdout
    assert "exit code 3" in proc.stdout


def test_a_spec_error_exits_two_and_prints_each_problem_located(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  - run: echo hi\n    shel: bash\n")
    proc = scd(tmp_path)
    assert proc.returncode == 2
    assert "serverless-pipeline.yaml:3:5" in proc.stderr


def test_a_missing_file_exits_two(tmp_path: Path) -> None:
    proc = scd(tmp_path, "nope.yaml")
    assert proc.returncode == 2


def test_json_summary_lists_each_step_without_secret_values(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
        steps:
          - id: out
            env: {TOKEN: "${{ secrets.TOKEN }}"}
            run: |
              echo "leak=$TOKEN" >> "$SCD_OUTPUT"
              echo "plain=ok" >> "$SCD_OUTPUT"
          - {id: flaky, run: exit 1, continue-on-error: true}
          - {id: skipped, if: "false", run: echo no}
        """,
    )
    proc = scd(tmp_path, "--json", "--secret", "TOKEN", env={"TOKEN": "cli-secret-value-1"})
    assert proc.returncode == 0, proc.stderr
    assert "cli-secret-value-1" not in proc.stdout + proc.stderr
    data = summary(proc)
    assert data["status"] == "success"
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["out"]["outputs"]["plain"] == "ok"
    assert steps["out"]["outputs"]["leak"] != "cli-secret-value-1"
    assert (steps["flaky"]["status"], steps["flaky"]["outcome"], steps["flaky"]["conclusion"]) == (
        "failure",
        "failure",
        "success",
    )
    assert steps["skipped"]["status"] == "skipped"
    assert isinstance(steps["out"]["duration"], float)


def test_a_secret_missing_from_the_environment_exits_two(tmp_path: Path) -> None:
    write(tmp_path, "steps:\n  - run: 'true'\n")
    env = {k: v for k, v in os.environ.items() if k != "NOT_SET_ANYWHERE"}
    proc = scd(tmp_path, "--secret", "NOT_SET_ANYWHERE", env=env)
    assert proc.returncode == 2
    assert "NOT_SET_ANYWHERE" in proc.stderr


def test_inputs_env_ref_and_event_reach_the_contexts(tmp_path: Path) -> None:
    (tmp_path / "event.json").write_text(json.dumps({"custom": "payload-value"}))
    write(
        tmp_path,
        """
        steps:
          - id: show
            env: {BRANCH: "${{ git.branch }}", CUSTOM: "${{ event.custom }}",
                  TARGET: "${{ inputs.target }}"}
            run: echo "$TARGET $EXTRA $BRANCH $CUSTOM"
        """,
    )
    proc = scd(
        tmp_path,
        "--input", "target=prod",
        "--env", "EXTRA=extra-value",
        "--ref", "refs/heads/release",
        "--event", "event.json",
        "--data-dir", "state",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "prod extra-value release payload-value" in proc.stdout
    logs = list((tmp_path / "state" / "logs").rglob("*"))
    assert any(p.is_file() and b"payload-value" in p.read_bytes() for p in logs)


def test_a_normalised_event_file_becomes_the_git_context(tmp_path: Path) -> None:
    event = {"provider": "github", "event_name": "push", "branch": "main", "commit": "abc123"}
    (tmp_path / "event.json").write_text(json.dumps(event))
    write(tmp_path, 'steps:\n  - run: echo "${{ git.provider }} ${{ git.commit }}"\n')
    proc = scd(tmp_path, "--event", "event.json")
    assert proc.returncode == 0, proc.stderr
    assert "github abc123" in proc.stdout


@pytest.mark.timeout(60)
def test_ctrl_c_cancels_the_running_step_and_always_steps_still_run(tmp_path: Path) -> None:
    if not SCD.exists():
        pytest.skip(f"console script not installed at {SCD}")
    write(
        tmp_path,
        """
        steps:
          - {id: long, run: "echo sleeping-now; sleep 60"}
          - {id: after, run: echo after}
          - {id: cleanup, if: "${{ always() }}", run: echo cleanup-ran}
        """,
    )
    proc = subprocess.Popen(
        [str(SCD), "run", "--json", "--grace", "5"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "sleeping-now" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1
    steps = {s["id"]: s["status"] for s in json.loads(out)["steps"]}
    assert steps == {"long": "cancelled", "after": "cancelled", "cleanup": "success"}
