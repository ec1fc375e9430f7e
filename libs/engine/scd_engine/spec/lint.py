"""Load and lint a pipeline spec: every problem at once, each located.

Contract: :func:`lint_pipeline` never raises for a bad spec: it returns every
error and warning, sorted by position. :func:`load_pipeline` returns the
validated :class:`Pipeline` (with source locations filled in) or raises
:class:`~scd_core.errors.SpecError` listing every error; warnings do not stop
loading. A file that cannot be read raises ``NotFound`` (missing) or
``ConfigError`` (any other read failure).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError
from scd_core.errors import ConfigError, NotFound, Problem, SpecError

from scd_engine.spec.checks import spec_problems
from scd_engine.spec.habits import habit_problems, without_on
from scd_engine.spec.pipeline import Pipeline, Step
from scd_engine.spec.problems import validation_problems
from scd_engine.spec.yamlsource import YamlSource, read_yaml

__all__ = ["DEFAULT_PIPELINE", "lint_pipeline", "load_pipeline", "read_spec_text"]

DEFAULT_PIPELINE = "serverless-pipeline.yaml"

# YAML key -> the name Step.location_of() knows it by.
_STEP_FIELDS = {
    "run": "run", "uses": "uses", "plugin": "uses", "script": "script", "if": "if",
    "with": "with", "inputs": "with", "env": "env", "name": "name", "id": "id",
    "working-directory": "working-directory", "timeout-minutes": "timeout-minutes",
    "continue-on-error": "continue-on-error", "shell": "shell",
}  # fmt: skip


def read_spec_text(path: str | Path) -> str:
    """The text of the spec file at ``path``; ``NotFound`` if it does not exist."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise NotFound(f"pipeline file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read pipeline file {path}: {exc}") from exc


def lint_pipeline(path: str | Path, text: str | None = None) -> list[Problem]:
    """Every error and warning in the spec (``text``, else the file at ``path``)."""
    return _analyse(path, text)[1]


def load_pipeline(path: str | Path, text: str | None = None) -> Pipeline:
    """The validated pipeline; ``SpecError`` with every error if there is any."""
    pipeline, problems = _analyse(path, text)
    errors = [p for p in problems if p.severity == "error"]
    if errors or pipeline is None:
        raise SpecError(errors)
    return pipeline


def _analyse(path: str | Path, text: str | None) -> tuple[Pipeline | None, list[Problem]]:
    file = str(path)
    if text is None:
        text = read_spec_text(path)
    try:
        source = read_yaml(text, file)
    except SpecError as exc:
        return None, list(exc.problems)
    if source.data is None:
        message = "the file is empty; hint: a pipeline needs steps, such as 'steps: [{run: make}]'"
        return None, [Problem(file, 1, 1, message)]
    data, problems = without_on(source)
    problems = [*source.problems, *problems, *habit_problems(source)]
    pipeline: Pipeline | None = None
    failure: ValidationError | None = None
    try:
        pipeline = Pipeline.model_validate(data)
    except ValidationError as exc:
        failure = exc
        problems.extend(validation_problems(exc.errors(include_url=False), source))
    problems.extend(spec_problems(source))
    if failure is not None and not any(p.severity == "error" for p in problems):
        # Never an invalid pipeline without a reason: fall back to the model's own errors.
        errors = failure.errors(include_url=False)
        problems.extend(validation_problems(errors, source, skip_structure=False))
    problems = sorted(set(problems), key=lambda p: (p.line, p.column, p.severity, p.message))
    if pipeline is not None:
        _set_locations(pipeline, source)
    return pipeline, problems


def _set_locations(pipeline: Pipeline, source: YamlSource) -> None:
    pipeline._location = source.locate(())
    _set_step_locations(pipeline.steps, source.node(("steps",)), source)
    for task_id, task in pipeline.tasks.items():
        task._location = source.locate(("tasks", task_id))
        _set_step_locations(task.steps, source.node(("tasks", task_id, "steps")), source)


def _set_step_locations(steps: list[Step], node: yaml.Node | None, source: YamlSource) -> None:
    if not isinstance(node, yaml.SequenceNode):
        return
    for step, step_node in zip(steps, node.value, strict=False):
        step._location = source.at(step_node)
        pairs = step_node.value if isinstance(step_node, yaml.MappingNode) else ()
        for key_node, value_node in pairs:
            name = _STEP_FIELDS.get(str(key_node.value))
            if name is not None:
                step._field_locations[name] = source.at(value_node)
