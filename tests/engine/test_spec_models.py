"""The pipeline models: spellings, kinds, keys, env coercion and source locations."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from scd_core.errors import NotFound, SpecError
from scd_engine.spec import Pipeline, Step, load_pipeline

SPEC = """\
name: build
env: {NODE_ENV: production, RETRIES: 3, DEBUG: true, EMPTY: }
steps:
  - run: npm ci
  - id: test
    run: npm test
    timeout-minutes: 10
    continue-on-error: true
    shell: sh
  - uses: cache
    with: {key: "npm-${{ hashFiles('package-lock.json') }}", path: node_modules}
  - plugin: ./ci/notify.py
    inputs: {channel: ops}
  - script: |
      print(steps.test.outcome)
  - run: ./deploy.sh
    if: ${{ success() && git.branch == 'main' }}
    working-directory: app
"""


def test_load_pipeline_reads_every_field_with_yaml_spellings() -> None:
    pipeline = load_pipeline("serverless-pipeline.yaml", SPEC)
    assert pipeline.name == "build"
    kinds = [step.kind for step in pipeline.steps]
    assert kinds == ["run", "run", "uses", "uses", "script", "run"]
    test = pipeline.steps[1]
    assert test.timeout_minutes == 10
    assert test.continue_on_error is True
    assert test.shell == "sh"
    assert pipeline.steps[5].if_ == "${{ success() && git.branch == 'main' }}"
    assert pipeline.steps[5].working_directory == "app"


def test_serverless_cd_plugin_and_inputs_are_aliases_of_uses_and_with() -> None:
    step = load_pipeline("p.yaml", SPEC).steps[3]
    assert step.uses == "./ci/notify.py"
    assert step.with_ == {"channel": "ops"}
    assert step.inputs == {"channel": "ops"}


def test_env_scalars_become_the_strings_a_shell_would_see() -> None:
    env = load_pipeline("p.yaml", SPEC).env
    assert env == {"NODE_ENV": "production", "RETRIES": "3", "DEBUG": "true", "EMPTY": ""}


def test_step_key_is_the_id_or_the_index() -> None:
    steps = load_pipeline("p.yaml", SPEC).steps
    assert steps[0].key(0) == "0"
    assert steps[1].key(1) == "test"


def test_loaded_pipeline_and_steps_carry_their_source_location() -> None:
    pipeline = load_pipeline("ci/serverless-pipeline.yaml", SPEC)
    assert pipeline.file == "ci/serverless-pipeline.yaml"
    first, test = pipeline.steps[0].location, pipeline.steps[1].location
    assert first is not None
    assert test is not None
    assert (first.line, first.column) == (4, 5)
    assert (test.line, test.column) == (5, 5)
    run = pipeline.steps[1].location_of("run")
    assert run is not None
    assert (run.line, run.column) == (6, 10)
    plugin = pipeline.steps[3].location_of("uses")
    assert plugin is not None
    assert plugin.line == 12
    assert str(test) == "ci/serverless-pipeline.yaml:5:5"


def test_models_built_in_code_have_no_location() -> None:
    step = Step.model_validate({"run": "true"})
    assert step.location is None
    assert step.location_of("run") is None


def test_model_rejects_two_kinds_and_unknown_keys_when_validated_directly() -> None:
    with pytest.raises(ValidationError, match="exactly one of run, uses, script"):
        Step.model_validate({"run": "a", "script": "b"})
    with pytest.raises(ValidationError, match="shell"):
        Step.model_validate({"uses": "cache", "shell": "bash"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        Step.model_validate({"run": "a", "rnu": "b"})


def test_model_rejects_duplicate_ids_and_an_empty_step_list() -> None:
    with pytest.raises(ValidationError, match="duplicate step id 'a'"):
        Pipeline.model_validate({"steps": [{"id": "a", "run": "x"}, {"id": "a", "run": "y"}]})
    with pytest.raises(ValidationError):
        Pipeline.model_validate({"steps": []})


def test_expression_strings_are_accepted_for_timeout_and_continue_on_error() -> None:
    step = Step.model_validate(
        {
            "run": "x",
            "timeout-minutes": "${{ inputs.minutes }}",
            "continue-on-error": "${{ matrix.experimental }}",
        }
    )
    assert step.timeout_minutes == "${{ inputs.minutes }}"
    assert step.continue_on_error == "${{ matrix.experimental }}"


def test_load_pipeline_reads_the_file_when_no_text_is_given(tmp_path: Path) -> None:
    path = tmp_path / "serverless-pipeline.yaml"
    path.write_text("steps:\n  - run: 'true'\n", encoding="utf-8")
    pipeline = load_pipeline(path)
    assert pipeline.steps[0].run == "true"
    assert pipeline.file == str(path)


def test_load_pipeline_raises_not_found_for_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="pipeline file not found"):
        load_pipeline(tmp_path / "nope.yaml")


def test_load_pipeline_raises_spec_error_with_every_error_not_just_the_first() -> None:
    text = "steps:\n  - rnu: a\n  - run: b\n    shell: zsh\n  - run: ${{ 1 + }}\n"
    with pytest.raises(SpecError) as caught:
        load_pipeline("p.yaml", text)
    lines = [problem.line for problem in caught.value.problems]
    assert lines == [2, 4, 5]
    assert all(problem.severity == "error" for problem in caught.value.problems)


def test_warnings_alone_do_not_stop_loading() -> None:
    text = "steps:\n  - run: echo ${{ steps.later.outputs.x }}\n  - id: later\n    run: 'true'\n"
    pipeline = load_pipeline("p.yaml", text)
    assert len(pipeline.steps) == 2


def test_a_pipeline_dumped_with_yaml_spellings_loads_back_equal() -> None:
    pipeline = load_pipeline("p.yaml", SPEC)
    dumped = pipeline.model_dump(by_alias=True, exclude_none=True)
    assert "with" in dumped["steps"][2]
    assert dumped["steps"][5]["working-directory"] == "app"
    assert Pipeline.model_validate(dumped).model_dump() == pipeline.model_dump()
