"""serverless-cd habits in a pipeline: warned about with a hint, never fatal."""

from __future__ import annotations

from pathlib import Path

from scd_core.errors import Problem
from scd_engine.spec import lint_pipeline, load_pipeline

from tests.engine.test_runtime_steps import run_yaml


def _warnings(text: str) -> list[Problem]:
    problems = lint_pipeline("p.yaml", text)
    assert all(p.severity == "warning" for p in problems), problems
    return problems


def test_a_top_level_on_is_ignored_with_a_warning_pointing_at_the_trigger_spec(
    tmp_path: Path,
) -> None:
    text = "name: x\non:\n  push:\n    branches: [main]\nsteps:\n  - run: echo ran\n"
    [problem] = _warnings(text)
    assert (problem.line, problem.column) == (2, 1)
    assert "'on:' is ignored" in problem.message
    assert "trigger spec" in problem.message
    result, log, _ = run_yaml(tmp_path, text)
    assert result.status == "success"
    assert log("0") == "ran\n"


def test_on_inside_a_step_is_still_an_error() -> None:
    problems = lint_pipeline("p.yaml", "steps:\n  - run: echo\n    on: push\n")
    assert [p.severity for p in problems] == ["error"]


def test_a_bare_template_of_a_context_path_in_run_warns_did_you_mean(tmp_path: Path) -> None:
    text = (
        "steps:\n"
        "  - id: show\n"
        "    run: echo '{{ env.NAME }}' '{{ .Values.image }}' '{{ name }}' '${{ env.NAME }}'\n"
        "    env: {NAME: scd}\n"
    )
    [problem] = _warnings(text)
    assert problem.message.endswith("did you mean `${{ env.NAME }}`?")
    assert (problem.line, problem.column) == (3, 16)
    result, log, _ = run_yaml(tmp_path, text)
    assert result.status == "success"
    assert log("show") == "{{ env.NAME }} {{ .Values.image }} {{ name }} scd\n"


def test_a_steps_own_env_read_in_its_if_warns_and_follows_github(tmp_path: Path) -> None:
    text = (
        "env: {STAGE: prod}\n"
        "steps:\n"
        "  - id: own\n"
        "    run: echo own\n"
        "    env: {DEPLOY: 'yes'}\n"
        "    if: ${{ env.DEPLOY == 'yes' }}\n"
        "  - id: top\n"
        "    run: echo top\n"
        "    env: {OTHER: '1'}\n"
        "    if: env.STAGE == 'prod'\n"
    )
    [problem] = _warnings(text)
    assert (problem.line, problem.column) == (6, 9)
    assert "'if' reads env.DEPLOY, which this step's own 'env' sets" in problem.message
    result, _, _ = run_yaml(tmp_path, text)
    # GitHub's rule: the step's env is not set when its if is evaluated.
    assert [s.status for s in result.steps] == ["skipped", "success"]


def test_warnings_do_not_stop_loading(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("on: push\nsteps:\n  - run: echo {{ git.branch }}\n")
    assert len(load_pipeline(path).steps) == 1
