"""The pipeline spec (``serverless-pipeline.yaml``) as pydantic models: tasks and the pipeline.

Contract: a :class:`Pipeline` has either ``steps`` (one task,
:data:`~scd_core.models.DEFAULT_TASK`; what every pipeline before tasks was) or
``tasks``, a mapping of task id to :class:`Task`, never both. Task ids are
identifiers; ``needs`` is a task id or a list of them; ``matrix`` is a mapping
(axes, ``include``, ``exclude``, ``fail-fast``, ``max-parallel``) or one
``${{ }}`` expression (GitHub's ``fromJSON(needs.x.outputs.y)`` pattern), and an
axis's values are a list or one ``${{ }}`` expression. The graph (known needs,
no cycle) and the expressions are checked by the linter
(:mod:`scd_engine.spec.checks`, at file:line:column) and by the plan.

Steps and their field validators live in :mod:`~scd_engine.spec.step` and
:mod:`~scd_engine.spec.fields`; their names are exported here too.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    model_validator,
)
from pydantic_core import PydanticCustomError
from scd_core.models import DEFAULT_TASK

from scd_engine.spec.fields import (
    ID_PATTERN,
    PIPELINE_KEYS,
    SHELLS,
    STEP_KEYS,
    TASK_KEYS,
    Env,
    Name,
    StepKind,
    bool_or_expression,
    condition_value,
    is_whole_expression,
    timeout_value,
    yaml_type,
)
from scd_engine.spec.step import Step, step_structure_messages, unique_step_ids
from scd_engine.spec.yamlsource import SourceLocation

__all__ = [
    "ID_PATTERN",
    "MATRIX_KEYS",
    "PIPELINE_KEYS",
    "SHELLS",
    "STEP_KEYS",
    "TASK_KEYS",
    "Pipeline",
    "Step",
    "StepKind",
    "Task",
    "is_whole_expression",
    "matrix_value",
    "step_structure_messages",
    "yaml_type",
]

MATRIX_KEYS: tuple[str, ...] = ("include", "exclude", "fail-fast", "max-parallel")


def _needs(value: Any) -> Any:
    # GitHub accepts one id as a string: needs: build
    return [value] if isinstance(value, str) else value


def _task_id(value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "scd_task_id",
            "task id '{id}' is not an identifier: use letters, digits, '_' and '-', "
            "starting with a letter or '_'",
            {"id": value},
        )
    return value


def _error(message: str, **values: Any) -> PydanticCustomError:
    return PydanticCustomError("scd_matrix", message, values)


def matrix_value(value: Any) -> dict[str, Any] | str:
    """``value`` as a task's ``matrix``: a mapping as validated, or one ``${{ }}`` text.

    Raises ``PydanticCustomError`` naming the first part that does not fit.
    """
    if isinstance(value, str) and is_whole_expression(value):
        return value
    if not isinstance(value, dict):
        raise _error(
            "'matrix' must be a mapping or one ${{ }} expression, not {got}", got=yaml_type(value)
        )
    for key, item in value.items():
        key = str(key)
        if key in ("include", "exclude"):
            rows = item if isinstance(item, list) else None
            if not (rows is not None and all(isinstance(r, dict) for r in rows)) and not (
                isinstance(item, str) and is_whole_expression(item)
            ):
                raise _error(
                    "matrix '{key}' must be a list of mappings, not {got}",
                    key=key,
                    got=yaml_type(item),
                )
        elif key == "fail-fast":
            bool_or_expression(item)
        elif key == "max-parallel":
            _max_parallel(item)
        elif not ID_PATTERN.fullmatch(key):
            raise _error("matrix axis '{key}' is not an identifier", key=key)
        elif isinstance(item, list):
            if not item:
                raise _error("matrix axis '{key}' has no values", key=key)
        elif not (isinstance(item, str) and is_whole_expression(item)):
            raise _error(
                "matrix axis '{key}' must be a list of values or one ${{{{ }}}} "
                "expression, not {got}",
                key=key,
                got=yaml_type(item),
            )
    return {str(k): v for k, v in value.items()}


def _max_parallel(item: Any) -> None:
    if isinstance(item, int) and not isinstance(item, bool) and item > 0:
        return
    if not (isinstance(item, str) and is_whole_expression(item)):
        message = "matrix 'max-parallel' must be a positive whole number, not {got}"
        raise _error(message, got=yaml_type(item))


def _outputs(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "scd_outputs",
            "'outputs' must be a mapping of name to value, not {got}",
            {"got": yaml_type(value)},
        )
    outputs: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(item, (str, int, float, bool)):
            raise PydanticCustomError(
                "scd_outputs",
                "output '{name}' must be a string (usually a ${{{{ }}}} expression), not {got}",
                {"name": str(name), "got": yaml_type(item)},
            )
        outputs[str(name)] = item if isinstance(item, str) else str(item).lower()
    return outputs


class Task(BaseModel):
    """One task: steps run in one worker invocation, after the tasks it ``needs``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name = None
    needs: Annotated[list[Annotated[str, PlainValidator(_task_id)]], BeforeValidator(_needs)] = (
        Field(default_factory=list)
    )
    if_: Annotated[bool | str, PlainValidator(condition_value)] | None = Field(None, alias="if")
    matrix: Annotated[dict[str, Any] | str, PlainValidator(matrix_value)] | None = None
    env: Env = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    timeout_minutes: Annotated[int | float | str, PlainValidator(timeout_value)] | None = Field(
        None, alias="timeout-minutes"
    )
    continue_on_error: Annotated[bool | str, PlainValidator(bool_or_expression)] = Field(
        False, alias="continue-on-error"
    )
    outputs: Annotated[dict[str, str], PlainValidator(_outputs)] = Field(default_factory=dict)

    _location: SourceLocation | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _unique_ids(self) -> Task:
        unique_step_ids(self.steps)
        return self

    @property
    def location(self) -> SourceLocation | None:
        """Where the task's mapping starts in the spec file (None if built in code)."""
        return self._location


_NO_STEPS = {
    "steps": "'steps' is empty; hint: a pipeline needs at least one step, e.g. '- run: make'",
    "tasks": "'tasks' is empty; hint: a task such as 'build: {steps: [{run: make}]}'",
    "": "missing required key 'steps'; hint: a pipeline lists its steps, such as "
    "'steps: [{run: make test}]', or its tasks under 'tasks:'",
}


def _given(given: set[str]) -> str:
    return "steps" if "steps" in given else "tasks" if "tasks" in given else ""


class Pipeline(BaseModel):
    """A pipeline: a name, environment for every step, and its steps or its tasks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name = None
    env: Env = Field(default_factory=dict)
    steps: list[Step] = Field(default_factory=list)
    tasks: dict[Annotated[str, PlainValidator(_task_id)], Task] = Field(default_factory=dict)

    _location: SourceLocation | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _steps_or_tasks(self) -> Pipeline:
        given = self.model_fields_set
        if self.steps and self.tasks:
            raise PydanticCustomError(
                "scd_steps_or_tasks",
                "a pipeline has 'steps' (one task) or 'tasks', not both; hint: move the "
                "steps into a task",
            )
        if not self.steps and not self.tasks:
            raise PydanticCustomError("scd_no_steps", _NO_STEPS[_given(given)])
        unique_step_ids(self.steps)
        return self

    def task_specs(self) -> dict[str, Task]:
        """Every task by id; a ``steps:`` pipeline is one task, ``default``."""
        if self.tasks:
            return dict(self.tasks)
        return {DEFAULT_TASK: Task.model_validate({"steps": self.steps})}

    def all_steps(self) -> list[Step]:
        """Every step of every task, in spec order."""
        return [step for task in self.task_specs().values() for step in task.steps]

    @property
    def location(self) -> SourceLocation | None:
        """Where the pipeline's mapping starts (None if built in code)."""
        return self._location

    @property
    def file(self) -> str | None:
        """The spec file this pipeline was read from (None if built in code)."""
        return self._location.file if self._location else None
