"""The step kinds through the Runner: run (shells), script, outputs, env, masking, injection."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scd_core.logs import strip_timestamps
from scd_core.models import Event, StepState
from scd_core.sinks.memory import MemoryLogSink
from scd_engine.plan import compile_plan
from scd_engine.runtime import Runner, RunnerOptions, RunResult
from scd_engine.spec import load_pipeline


def run_yaml(
    workspace: Path, text: str, **kw: Any
) -> tuple[RunResult, Callable[[str], str], list[StepState]]:
    """Run pipeline ``text`` in ``workspace``; the result, a log reader, observed states."""
    path = workspace / "serverless-pipeline.yaml"
    path.write_text(text)
    sink = MemoryLogSink()
    seen: list[StepState] = []
    runner = Runner(RunnerOptions(workspace, sink=sink, run_id="r1", observers=[seen.append], **kw))
    result = runner.run(compile_plan(load_pipeline(path)).task("default"))

    def log(step: str) -> str:
        return strip_timestamps(sink.read("r1", step).data).decode()

    return result, log, seen


def test_a_run_step_succeeds_and_its_output_reaches_the_log(tmp_path: Path) -> None:
    result, log, _ = run_yaml(tmp_path, "steps:\n  - id: hi\n    run: echo hello; echo oops >&2\n")
    assert result.status == "success"
    assert result.steps[0].status == "success"
    assert log("hi") == "hello\noops\n"


def test_bash_is_the_default_shell_with_errexit_and_pipefail(tmp_path: Path) -> None:
    result, log, _ = run_yaml(
        tmp_path,
        "steps:\n  - id: a\n    run: |\n      false | true\n      echo not-reached\n",
    )
    assert result.status == "failure"
    assert "not-reached" not in log("a")
    assert "exit code 1" in log("a")


def test_sh_and_python_shells_run_the_script_with_that_interpreter(tmp_path: Path) -> None:
    text = """
steps:
  - id: sh
    shell: sh
    run: echo "sh:$0"
  - id: py
    shell: python
    run: |
      import sys
      print("py:", sys.executable)
"""
    result, log, _ = run_yaml(tmp_path, text)
    assert result.status == "success"
    assert log("sh").startswith("sh:")
    assert log("sh").strip().endswith(".sh")
    assert log("py").strip() == f"py: {sys.executable}"


def test_outputs_including_multiline_blocks_reach_later_steps(tmp_path: Path) -> None:
    text = """
steps:
  - id: make
    run: |
      echo "simple=value one" >> "$SCD_OUTPUT"
      { echo "multi<<EOF"; echo "line 1"; echo "line 2"; echo "EOF"; } >> "$SCD_OUTPUT"
  - id: use
    env:
      MULTI: ${{ steps.make.outputs.multi }}
    run: |
      echo "${{ steps.make.outputs.simple }}"
      echo "[$MULTI]"
"""
    result, log, _ = run_yaml(tmp_path, text)
    assert result.steps[0].outputs == {"simple": "value one", "multi": "line 1\nline 2"}
    assert log("use") == "value one\n[line 1\nline 2]\n"


def test_scd_env_additions_apply_to_later_steps_only(tmp_path: Path) -> None:
    text = """
env: {LEVEL: pipeline}
steps:
  - id: set
    run: |
      echo "ADDED=yes" >> "$SCD_ENV"
      echo "now:${ADDED:-unset}"
  - id: read
    run: echo "later:$ADDED ${{ env.ADDED }} $LEVEL"
  - id: override
    env: {ADDED: step}
    run: echo "step:$ADDED"
"""
    result, log, _ = run_yaml(tmp_path, text)
    assert result.status == "success"
    assert log("set") == "now:unset\n"
    assert log("read") == "later:yes yes pipeline\n"
    assert log("override") == "step:step\n"


def test_a_malformed_output_file_fails_the_step_with_the_reason(tmp_path: Path) -> None:
    result, log, _ = run_yaml(tmp_path, "steps:\n  - id: a\n    run: echo garbage >> $SCD_OUTPUT\n")
    assert result.steps[0].status == "failure"
    assert "invalid line" in log("a")


def test_working_directory_is_relative_to_the_workspace(tmp_path: Path) -> None:
    (tmp_path / "sub" / "dir").mkdir(parents=True)
    text = "steps:\n  - id: a\n    working-directory: sub/dir\n    run: pwd\n"
    result, log, _ = run_yaml(tmp_path, text)
    assert result.status == "success"
    assert log("a").strip() == str((tmp_path / "sub" / "dir").resolve())


def test_a_missing_working_directory_fails_the_step(tmp_path: Path) -> None:
    result, log, _ = run_yaml(
        tmp_path, "steps:\n  - id: a\n    working-directory: nope\n    run: pwd\n"
    )
    assert result.steps[0].status == "failure"
    assert "does not exist" in log("a")


def test_the_step_environment_describes_the_run_and_hides_platform_credentials(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "platform-key")
    monkeypatch.setenv("FC_FUNCTION_NAME", "worker")
    text = """
steps:
  - id: a
    run: |
      echo "$CI $SCD $SCD_RUN_ID $SCD_STEP $SCD_REF"
      echo "cred:${ALIBABA_CLOUD_ACCESS_KEY_SECRET:-none} fc:${FC_FUNCTION_NAME:-none}"
"""
    event = Event(provider="github", event_name="push", ref="refs/heads/main", branch="main")
    _, log, _ = run_yaml(tmp_path, text, event=event)
    assert log("a") == "true true r1 a refs/heads/main\ncred:none fc:none\n"


def test_secrets_are_masked_in_the_log_and_add_mask_masks_from_then_on(tmp_path: Path) -> None:
    text = """
steps:
  - id: a
    env: {TOKEN: "${{ secrets.TOKEN }}"}
    run: |
      echo "token=$TOKEN"
      echo "::add-mask::runtime-value-42"
      echo "later runtime-value-42"
"""
    result, log, _ = run_yaml(tmp_path, text, secrets={"TOKEN": "s3cr3t-token-value"})
    assert result.status == "success"
    assert "s3cr3t-token-value" not in log("a")
    assert "runtime-value-42" not in log("a")
    assert "token=" in log("a")
    assert "later" in log("a")


def test_untrusted_event_text_reaches_the_script_only_as_data(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    message = f'$(touch {pwned}) `touch {pwned}2` "; id; "'
    text = """
steps:
  - id: a
    env: {MSG: "${{ git.message }}"}
    run: echo "$MSG"
"""
    event = Event(provider="github", event_name="push", message=message)
    result, log, _ = run_yaml(tmp_path, text, event=event)
    assert result.status == "success"
    assert log("a") == message + "\n"
    assert not pwned.exists()
    assert not Path(f"{pwned}2").exists()
    assert "uid=" not in log("a")


def test_contexts_expose_git_inputs_and_names_are_rendered(tmp_path: Path) -> None:
    text = """
steps:
  - id: a
    name: "Deploy ${{ git.branch }}"
    env: {TARGET: "${{ inputs.target }}"}
    run: echo "${{ git.repo_owner }} $TARGET ${{ task.id }}"
"""
    event = Event(provider="github", event_name="push", branch="main", repository="acme/web")
    result, log, seen = run_yaml(tmp_path, text, event=event, inputs={"target": "prod"})
    assert log("a") == "acme prod r1\n"
    assert result.steps[0].name == "Deploy main"
    assert [s.status for s in seen] == ["pending", "running", "success"]


def test_an_expression_error_fails_that_step_with_the_message_in_its_log(tmp_path: Path) -> None:
    text = (
        "steps:\n  - id: a\n    run: echo ${{ fromJSON('{bad') }}\n  - id: b\n    run: echo next\n"
    )
    result, log, _ = run_yaml(tmp_path, text)
    assert result.steps[0].status == "failure"
    assert log("a").startswith("error:")
    assert result.steps[1].status == "skipped"


def test_a_script_step_sees_contexts_runs_sh_and_sets_outputs(tmp_path: Path) -> None:
    text = """
steps:
  - id: first
    run: echo "v=42" >> "$SCD_OUTPUT"
  - id: py
    script: |
      print("outcome", steps.first.outcome, steps.first.outputs.v, git.branch)
      r = sh("echo from-bash")
      outputs["captured"] = r.output.strip()
      outputs["flag"] = True
      failed = sh("exit 3", check=False)
      outputs["code"] = failed.code
      set_env("FROM_SCRIPT", "yes")
  - id: after
    run: echo "$FROM_SCRIPT ${{ steps.py.outputs.captured }}"
"""
    event = Event(provider="github", event_name="push", branch="dev")
    result, log, _ = run_yaml(tmp_path, text, event=event)
    assert result.status == "success", log("py")
    assert log("py") == "outcome success 42 dev\nfrom-bash\n"
    assert result.steps[1].outputs == {"captured": "from-bash", "flag": "true", "code": "3"}
    assert log("after") == "yes from-bash\n"


def test_a_failing_sh_in_a_script_fails_the_step_with_a_short_message(tmp_path: Path) -> None:
    text = (
        "steps:\n  - id: py\n    script: |\n      sh('echo before; exit 5')\n      print('after')\n"
    )
    result, log, _ = run_yaml(tmp_path, text)
    assert result.steps[0].status == "failure"
    assert "before\n" in log("py")
    assert "command failed with exit code 5" in log("py")
    assert "after" not in log("py")
    assert "Traceback" not in log("py")


def test_a_script_exception_shows_a_traceback_of_the_script_lines(tmp_path: Path) -> None:
    text = "steps:\n  - id: py\n    script: |\n      x = 1\n      raise ValueError('boom')\n"
    result, log, _ = run_yaml(tmp_path, text)
    assert result.steps[0].status == "failure"
    assert 'File "<script>", line 2' in log("py")
    assert "ValueError: boom" in log("py")
    assert "prelude" not in log("py")


def test_a_script_step_can_read_secrets_but_the_log_masks_them(tmp_path: Path) -> None:
    text = "steps:\n  - id: py\n    script: print('secret is', secrets.TOKEN)\n"
    result, log, _ = run_yaml(tmp_path, text, secrets={"TOKEN": "py-secret-99"})
    assert result.status == "success"
    assert "py-secret-99" not in log("py")
    assert "secret is" in log("py")


def test_a_secret_in_an_output_is_masked_in_the_record_but_usable_by_later_steps(
    tmp_path: Path,
) -> None:
    text = """
steps:
  - id: a
    env: {TOKEN: "${{ secrets.TOKEN }}"}
    run: echo "tok=$TOKEN" >> "$SCD_OUTPUT"
  - id: b
    env: {GOT: "${{ steps.a.outputs.tok }}"}
    run: '[ "$GOT" = "$EXPECTED" ] && echo same'
"""
    result, log, seen = run_yaml(
        tmp_path, text, secrets={"TOKEN": "out-secret-5"}, env={"EXPECTED": "out-secret-5"}
    )
    assert result.status == "success"
    assert log("b") == "same\n"
    assert result.steps[0].outputs["tok"] != "out-secret-5"
    assert all("out-secret-5" not in str(s.model_dump()) for s in seen)


def test_a_step_name_rendered_from_a_secret_is_recorded_masked(tmp_path: Path) -> None:
    text = 'steps:\n  - id: d\n    name: "deploy ${{ secrets.X }}"\n    run: echo ok\n'
    result, _, seen = run_yaml(tmp_path, text, secrets={"X": "name-secret-4471"})
    assert result.status == "success"
    assert all("name-secret-4471" not in (state.name or "") for state in seen)
    assert result.steps[0].name == "deploy ***"
