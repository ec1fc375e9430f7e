"""A step of the pipeline spec (``serverless-pipeline.yaml``) as a pydantic model.

Contract: models are validated from the YAML spellings (``if``, ``with``,
``working-directory``, ...); serverless-cd's ``plugin`` and ``inputs`` are
accepted for ``uses`` and ``with``. Unknown keys are rejected. A validated
:class:`Step` has exactly one of ``run``, ``uses``, ``script``; ``shell`` only
with ``run``; ``with`` only with ``uses``. Step ids are unique within a task.
Environment values written as scalars become strings (``true`` -> ``"true"``).

``load_pipeline`` (in :mod:`scd_engine.spec.lint`) fills each model's source
location, so the runtime can point at the step a message is about.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from scd_engine.spec.fields import (
    Env,
    Given,
    Name,
    StepKind,
    bool_or_expression,
    condition_value,
    step_id,
    timeout_value,
)
from scd_engine.spec.yamlsource import SourceLocation

__all__ = [
    "Step",
    "step_structure_messages",
    "unique_step_ids",
]


class Step(BaseModel):
    """One step: a shell command (``run``), a plugin (``uses``) or inline Python (``script``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, AfterValidator(step_id)] | None = None
    name: Name = None
    if_: Annotated[bool | str, PlainValidator(condition_value)] | None = Field(None, alias="if")
    env: Env = Field(default_factory=dict)
    working_directory: str | None = Field(None, alias="working-directory")
    continue_on_error: Annotated[bool | str, PlainValidator(bool_or_expression)] = Field(
        False, alias="continue-on-error"
    )
    # int | float: 10 stays 10 (PEP 484 reads float as int | float; pydantic does not).
    timeout_minutes: Annotated[int | float | str, PlainValidator(timeout_value)] | None = Field(
        None, alias="timeout-minutes"
    )
    shell: Literal["bash", "sh", "python"] | None = None
    run: Given = None
    uses: Given = Field(None, validation_alias=AliasChoices("uses", "plugin"))
    with_: dict[str, Any] | None = Field(
        None, validation_alias=AliasChoices("with", "inputs"), serialization_alias="with"
    )
    script: Given = None

    _location: SourceLocation | None = PrivateAttr(default=None)
    _field_locations: dict[str, SourceLocation] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        given = (
            ("run", self.run),
            ("uses", self.uses),
            ("script", self.script),
            ("shell", self.shell),
            ("with", self.with_),
        )
        for _key, message in step_structure_messages({k for k, v in given if v is not None}):
            raise PydanticCustomError("scd_step_structure", message)
        return self

    @property
    def kind(self) -> StepKind:
        """``"run"``, ``"uses"`` or ``"script"``."""
        if self.run is not None:
            return "run"
        if self.uses is not None:
            return "uses"
        return "script"

    @property
    def inputs(self) -> dict[str, Any]:
        """The plugin inputs (``with``), empty when none were given."""
        return dict(self.with_ or {})

    def key(self, index: int) -> str:
        """The step's id, or ``str(index)`` when it has none."""
        return self.id if self.id is not None else str(index)

    @property
    def location(self) -> SourceLocation | None:
        """Where the step's mapping starts in the spec file (None if built in code)."""
        return self._location

    def location_of(self, key: str) -> SourceLocation | None:
        """Where the value of YAML key ``key`` starts, else the step's own location."""
        return self._field_locations.get(key, self._location)


def step_structure_messages(keys: set[str]) -> list[tuple[str | None, str]]:
    """Problems with the combination of keys a step has, as ``(key to blame, message)``.

    ``keys`` are the YAML keys as written (aliases allowed); the key to blame is
    None when the problem is the step as a whole.
    """
    kinds = [k for k in ("run", "uses", "plugin", "script") if k in keys]
    distinct = {"uses" if k == "plugin" else k for k in kinds}  # both spellings: one kind
    problems: list[tuple[str | None, str]] = []
    if len(distinct) != 1:
        has = f"; this one has {' and '.join(kinds)}" if kinds else ""
        blame = kinds[1] if len(kinds) > 1 else None
        problems.append((blame, f"a step needs exactly one of run, uses, script{has}"))
    if "shell" in keys and kinds and "run" not in kinds:
        problems.append(("shell", "'shell' applies only to run steps"))
    for key in ("with", "inputs"):
        if key in keys and kinds and not {"uses", "plugin"} & set(kinds):
            problems.append((key, f"'{key}' applies only to uses steps"))
    return problems


def unique_step_ids(steps: list[Step]) -> None:
    """Raise ``PydanticCustomError`` when two of ``steps`` share an id."""
    seen: set[str] = set()
    for step in steps:
        if step.id is not None and step.id in seen:
            message = "duplicate step id '{id}'"
            raise PydanticCustomError("scd_duplicate_id", message, {"id": step.id})
        if step.id is not None:
            seen.add(step.id)
