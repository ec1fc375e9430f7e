"""The pipeline spec (``serverless-pipeline.yaml``) as pydantic models.

Contract: models are validated from the YAML spellings (``if``, ``with``,
``working-directory``, ...); serverless-cd's ``plugin`` and ``inputs`` are
accepted for ``uses`` and ``with``. Unknown keys are rejected. A validated
:class:`Step` has exactly one of ``run``, ``uses``, ``script``; ``shell`` only
with ``run``; ``with`` only with ``uses``. Step ids are unique. Environment
values written as scalars become strings (``true`` -> ``"true"``).

``load_pipeline`` (in :mod:`scd_engine.spec.lint`) fills each model's source
location, so the runtime can point at the step a message is about.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from scd_engine.spec.yamlsource import SourceLocation

__all__ = [
    "ID_PATTERN",
    "PIPELINE_KEYS",
    "SHELLS",
    "STEP_KEYS",
    "Pipeline",
    "Step",
    "StepKind",
    "is_whole_expression",
    "step_structure_messages",
    "yaml_type",
]

ID_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SHELLS: tuple[str, ...] = ("bash", "sh", "python")
StepKind = Literal["run", "uses", "script"]
_WHOLE_EXPRESSION = re.compile(r"\s*\$\{\{.*\}\}\s*", re.DOTALL)

# Every key a YAML step or pipeline may hold, aliases included (for did-you-mean).
STEP_KEYS: tuple[str, ...] = (
    "id", "name", "if", "env", "working-directory", "continue-on-error", "timeout-minutes",
    "shell", "run", "uses", "plugin", "with", "inputs", "script",
)  # fmt: skip
PIPELINE_KEYS: tuple[str, ...] = ("name", "env", "steps")


def is_whole_expression(value: str) -> bool:
    """True when ``value`` is one ``${{ ... }}`` and nothing else but blanks."""
    return _WHOLE_EXPRESSION.fullmatch(value) is not None


def yaml_type(value: Any) -> str:
    """How a YAML reader would name the type of ``value`` ("a list", "a number", ...)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _shown(value: Any) -> str:
    if isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return repr(value)
    return yaml_type(value)


def _scalar_text(value: Any) -> str:
    """Env values: YAML scalars become the text a shell would see."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float, str)):
        return str(value)
    raise PydanticCustomError(
        "scd_env_value",
        "an env value must be a string, number or boolean, not {got}",
        {"got": yaml_type(value)},
    )


def _env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        raise PydanticCustomError(
            "scd_env_name",
            "env name '{name}' is not a variable name: use letters, digits and '_', "
            "not starting with a digit",
            {"name": value},
        )
    return value


def _name_text(value: Any) -> Any:
    # A number as a name (name: 2024) is meant as text.
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _step_id(value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "scd_step_id",
            "step id '{id}' is not an identifier: use letters, digits, '_' and '-', "
            "starting with a letter or '_'",
            {"id": value},
        )
    return value


def _bool_or_expression(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and is_whole_expression(value):
        return value
    raise PydanticCustomError(
        "scd_bool_or_expression",
        "'continue-on-error' must be true, false or a ${{ }} expression, not {got}",
        {"got": _shown(value)},
    )


def _timeout(value: Any) -> int | float | str:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value
    if number is not None and number > 0 and math.isfinite(number):
        return number
    if isinstance(value, str) and is_whole_expression(value):
        return value
    raise PydanticCustomError(
        "scd_timeout",
        "'timeout-minutes' must be a positive number or a ${{ }} expression, not {got}",
        {"got": _shown(value)},
    )


def _given(value: Any) -> Any:
    # "run:" with nothing after it is a mistake, not "no run".
    if value is None:
        raise PydanticCustomError("scd_empty", "this key needs a value")
    return value


def _condition(value: Any) -> bool | str:
    if isinstance(value, (bool, str)):
        return value
    raise PydanticCustomError(
        "scd_condition",
        "'if' must be an expression (a string) or a boolean, not {got}",
        {"got": yaml_type(value)},
    )


EnvName = Annotated[str, AfterValidator(_env_name)]
EnvValue = Annotated[str, BeforeValidator(_scalar_text)]
Env = dict[EnvName, EnvValue]
Name = Annotated[str | None, BeforeValidator(_name_text)]
Given = Annotated[str | None, BeforeValidator(_given)]


class Step(BaseModel):
    """One step: a shell command (``run``), a plugin (``uses``) or inline Python (``script``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, AfterValidator(_step_id)] | None = None
    name: Name = None
    if_: Annotated[bool | str, PlainValidator(_condition)] | None = Field(None, alias="if")
    env: Env = Field(default_factory=dict)
    working_directory: str | None = Field(None, alias="working-directory")
    continue_on_error: Annotated[bool | str, PlainValidator(_bool_or_expression)] = Field(
        False, alias="continue-on-error"
    )
    # int | float: 10 stays 10 (PEP 484 reads float as int | float; pydantic does not).
    timeout_minutes: Annotated[int | float | str, PlainValidator(_timeout)] | None = Field(
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


class Pipeline(BaseModel):
    """A pipeline: a name, environment for every step, and the steps in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name = None
    env: Env = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)

    _location: SourceLocation | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _unique_ids(self) -> Pipeline:
        seen: set[str] = set()
        for step in self.steps:
            if step.id is not None and step.id in seen:
                raise PydanticCustomError(
                    "scd_duplicate_id", "duplicate step id '{id}'", {"id": step.id}
                )
            if step.id is not None:
                seen.add(step.id)
        return self

    @property
    def location(self) -> SourceLocation | None:
        """Where the pipeline's mapping starts (None if built in code)."""
        return self._location

    @property
    def file(self) -> str | None:
        """The spec file this pipeline was read from (None if built in code)."""
        return self._location.file if self._location else None
