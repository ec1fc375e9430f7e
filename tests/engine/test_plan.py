"""The plan stage: a validated pipeline compiled into plain data, and the plan's own checks."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from scd_core.errors import SpecError
from scd_core.models import DEFAULT_TASK
from scd_engine.plan import (
    PLAN_VERSION,
    Matrix,
    Plan,
    PlanError,
    PlanStep,
    PlanTask,
    compile_plan,
)
from scd_engine.spec import Pipeline, load_pipeline

SPEC = """\
name: build
env: {NODE_ENV: production, BRANCH: "${{ git.branch }}"}
steps:
  - run: |

      npm ci
      npm run lint
  - id: test
    name: Test on ${{ git.branch }}
    run: npm test
    shell: sh
    working-directory: app
    timeout-minutes: 10
    continue-on-error: true
    env: {CI_LEVEL: 2}
  - uses: cache
    with: {key: "npm-${{ hashFiles('package-lock.json') }}", paths: [node_modules, .npm], n: 3}
    timeout-minutes: ${{ inputs.minutes }}
    continue-on-error: ${{ inputs.lenient }}
  - script: |
      print(steps.test.outcome)
    if: ${{ always() }}
  - run: ./deploy.sh
    if: git.branch == 'main'
  - run: echo never
    if: false
"""


def compiled(tmp_path: Path, text: str = SPEC) -> Plan:
    path = tmp_path / "serverless-pipeline.yaml"
    path.write_text(text)
    return compile_plan(load_pipeline(path))


def test_a_steps_pipeline_is_one_task_named_default_without_needs_or_matrix(
    tmp_path: Path,
) -> None:
    plan = compiled(tmp_path)
    assert [task.id for task in plan.tasks] == [DEFAULT_TASK]
    task = plan.task(DEFAULT_TASK)
    assert task.needs == ()
    assert task.matrix.empty
    assert plan.edges == []
    assert plan.name == "build"
    assert plan.file == str(tmp_path / "serverless-pipeline.yaml")
    assert [step.key for step in task.steps] == ["0", "test", "2", "3", "4", "5"]
    assert [step.index for step in task.steps] == [0, 1, 2, 3, 4, 5]


def test_the_pipeline_env_becomes_the_task_env_kept_as_templates(tmp_path: Path) -> None:
    task = compiled(tmp_path).task(DEFAULT_TASK)
    assert task.env == {"NODE_ENV": "production", "BRANCH": "${{ git.branch }}"}


def test_step_fields_carry_everything_the_runtime_needs_with_expressions_as_source(
    tmp_path: Path,
) -> None:
    steps = compiled(tmp_path).task(DEFAULT_TASK).steps
    first, test, cache, script, deploy, never = steps
    assert (first.kind, first.body, first.label, first.name) == (
        "run",
        "\nnpm ci\nnpm run lint\n",
        "Run npm ci",
        None,
    )
    assert first.condition is None
    assert not first.after_cancel
    assert test.name == test.label == "Test on ${{ git.branch }}"
    assert (test.shell, test.working_directory, test.timeout_minutes) == ("sh", "app", 10)
    assert test.continue_on_error is True
    assert test.env == {"CI_LEVEL": "2"}
    assert (cache.kind, cache.body, cache.label) == ("uses", "cache", "Run cache")
    assert cache.with_ == {
        "key": "npm-${{ hashFiles('package-lock.json') }}",
        "paths": ["node_modules", ".npm"],
        "n": 3,
    }
    assert cache.timeout_minutes == "${{ inputs.minutes }}"
    assert cache.continue_on_error == "${{ inputs.lenient }}"
    assert (script.kind, script.body, script.label) == (
        "script",
        "print(steps.test.outcome)\n",
        "Run script",
    )
    assert (script.condition, script.after_cancel) == ("always()", True)
    assert (deploy.condition, deploy.after_cancel) == ("success() && (git.branch == 'main')", False)
    assert never.condition == "success() && (false)"
    assert first.location == f"{tmp_path / 'serverless-pipeline.yaml'}:4:5"


def test_a_plan_is_plain_data_that_survives_a_json_round_trip(tmp_path: Path) -> None:
    plan = compiled(tmp_path)
    text = json.dumps(plan.to_data())  # no default=: every value is JSON already
    data = json.loads(text)
    assert data["version"] == PLAN_VERSION
    assert data["tasks"][0]["steps"][2]["with"]["paths"] == ["node_modules", ".npm"]
    again = Plan.from_data(data)
    assert again == plan
    assert json.dumps(again.to_data()) == text


def test_yaml_dates_in_with_become_their_text_so_the_plan_stays_json(tmp_path: Path) -> None:
    plan = compiled(tmp_path, "steps:\n  - uses: cache\n    with: {since: 2024-01-31}\n")
    step = plan.task(DEFAULT_TASK).steps[0]
    assert step.with_ == {"since": "2024-01-31"}
    json.dumps(plan.to_data())


def test_a_matrix_and_needs_round_trip_and_give_edges() -> None:
    step = PlanStep(key="0", index=0, kind="run", body="make", label="Run make")
    matrix = Matrix(
        axes={"node": (18, 20), "os": ("linux",)},
        include=({"node": 22, "experimental": True},),
        exclude=({"node": 18, "os": "linux"},),
    )
    plan = Plan(
        tasks=(
            PlanTask(id="build", steps=(step,), matrix=matrix),
            PlanTask(id="test", steps=(step,), needs=("build",)),
            PlanTask(id="deploy", steps=(step,), needs=("build", "test")),
        )
    )
    assert plan.edges == [("build", "test"), ("build", "deploy"), ("test", "deploy")]
    assert not plan.task("build").matrix.empty
    assert Plan.from_data(json.loads(json.dumps(plan.to_data()))) == plan


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ((), "it has no task"),
        ((("a", ()), ("a", ())), "duplicate task id 'a'"),
        ((("a", ("nope",)),), "task 'a' needs 'nope', which is no task"),
        ((("a", ("c",)), ("b", ("a",)), ("c", ("b",))), "cycle: a -> c -> b -> a"),
        ((("a", ("a",)),), "cycle: a -> a"),
    ],
)
def test_a_plan_refuses_a_broken_graph(
    tasks: tuple[tuple[str, tuple[str, ...]], ...], message: str
) -> None:
    step = PlanStep(key="0", index=0, kind="run", body="make", label="Run make")
    with pytest.raises(PlanError, match=message.replace("(", r"\(")):
        Plan(tasks=tuple(PlanTask(id=i, steps=(step,), needs=n) for i, n in tasks))


def test_asking_for_a_task_the_plan_lacks_names_the_ones_it_has(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"no task 'build' \(it has: default\)"):
        compiled(tmp_path).task("build")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(version=PLAN_VERSION + 1), "this release reads plans up to version"),
        (lambda d: d.pop("version"), "version None"),
        (lambda d: d.update(tasks={}), "tasks must be a list"),
        (lambda d: d["tasks"][0].update(id=7), "a task's id must be a str"),
        (lambda d: d["tasks"][0]["steps"][0].update(kind="docker"), "step kind 'docker'"),
        (lambda d: d["tasks"][0]["steps"][0].pop("key"), "a step's key must be a str"),
        (lambda d: d["tasks"][0]["steps"][0].update(env=[]), "a step's env must be a mapping"),
        (lambda d: d["tasks"][0]["steps"][0].update(colour="red"), "unknown field 'colour'"),
        (lambda d: d["tasks"][0].update(runs_on="x"), "a task has unknown field 'runs_on'"),
        (lambda d: d["tasks"][0]["matrix"].update(axes={"n": 1}), "matrix axis 'n' must be a list"),
    ],
)
def test_reading_malformed_plan_data_is_a_plan_error(
    tmp_path: Path, change: Any, message: str
) -> None:
    data = compiled(tmp_path).to_data()
    change(data)
    with pytest.raises(PlanError, match=message):
        Plan.from_data(data)


def code_built(steps: list[dict[str, Any]], env: dict[str, str] | None = None) -> Pipeline:
    return Pipeline.model_validate({"steps": steps, "env": env or {}})


def test_a_pipeline_built_in_code_gets_its_expressions_checked_at_plan_time() -> None:
    pipeline = code_built(
        [
            {"run": "echo ${{ gti.branch }}"},
            {"run": "echo ok", "if": "${{ git.branch == }}"},
            {"uses": "cache", "with": {"key": ["${{ nope.x }}"]}},
            {"run": "echo ${{ 'unclosed }}"},
        ],
        env={"A": "${{ secret.TOKEN }}"},
    )
    with pytest.raises(SpecError) as caught:
        compile_plan(pipeline)
    messages = [p.message for p in caught.value.problems]
    assert messages[0].startswith("unknown context 'secret' in 'env.A'; did you mean 'secrets'?")
    assert messages[1] == "step 1: unknown context 'gti' in 'run'; did you mean 'git'?"
    assert messages[2].startswith("step 2: invalid expression ${{ success() && (git.branch ==)")
    assert messages[3].startswith("step 3: unknown context 'nope' in 'with.key.0'")
    assert messages[4].startswith("step 4: invalid ${{ }} in 'run'")
    assert len(messages) == 5
    assert all(p.severity == "error" for p in caught.value.problems)


def test_untrusted_text_in_a_run_step_built_in_code_is_refused_at_plan_time() -> None:
    pipeline = code_built([{"run": "echo ${{ git.message }}"}])
    with pytest.raises(SpecError, match=r"git\.message"):
        compile_plan(pipeline)


def test_a_pipeline_built_in_code_with_sound_expressions_compiles_like_a_loaded_one(
    tmp_path: Path,
) -> None:
    loaded = compiled(tmp_path)
    pipeline = load_pipeline(tmp_path / "serverless-pipeline.yaml")
    rebuilt = Pipeline.model_validate(pipeline.model_dump(by_alias=True, exclude_none=True))
    plan = compile_plan(rebuilt)
    located = dataclasses.replace(
        plan,
        file=loaded.file,
        tasks=tuple(
            dataclasses.replace(
                t,
                steps=tuple(
                    dataclasses.replace(s, location=o.location)
                    for s, o in zip(t.steps, loaded.task(t.id).steps, strict=True)
                ),
            )
            for t in plan.tasks
        ),
    )
    assert located == loaded
    assert all(s.location is None for s in plan.task(DEFAULT_TASK).steps)


def test_compiling_a_loaded_pipeline_reports_nothing_the_linter_passed(tmp_path: Path) -> None:
    # The linter accepts these (a warning at most); the plan must not turn them into errors.
    text = (
        "steps:\n"
        "  - {id: a, run: 'echo ${{ steps.later.outputs.x }}'}\n"
        "  - {id: b, run: 'true', if: 'x ${{ true }}'}\n"
        "  - {id: later, name: '${{ success() }}', run: 'true'}\n"
    )
    plan = compiled(tmp_path, text)
    assert [s.key for s in plan.task(DEFAULT_TASK).steps] == ["a", "b", "later"]
