"""Field validators of the pipeline spec's models, shared by steps, tasks and pipelines.

Contract: each validator takes the raw YAML value and returns the validated
one or raises ``PydanticCustomError`` with a message a user can act on (the
linter shows it at the value's file:line:column).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

__all__ = [
    "ENV_NAME",
    "ID_PATTERN",
    "PIPELINE_KEYS",
    "SHELLS",
    "STEP_KEYS",
    "TASK_KEYS",
    "Env",
    "Given",
    "Name",
    "StepKind",
    "bool_or_expression",
    "condition_value",
    "is_whole_expression",
    "step_id",
    "timeout_value",
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
PIPELINE_KEYS: tuple[str, ...] = ("name", "env", "steps", "tasks")
TASK_KEYS: tuple[str, ...] = (
    "name", "needs", "if", "matrix", "env", "steps", "timeout-minutes", "continue-on-error",
    "outputs",
)  # fmt: skip


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


def step_id(value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "scd_step_id",
            "step id '{id}' is not an identifier: use letters, digits, '_' and '-', "
            "starting with a letter or '_'",
            {"id": value},
        )
    return value


def bool_or_expression(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and is_whole_expression(value):
        return value
    raise PydanticCustomError(
        "scd_bool_or_expression",
        "'continue-on-error' must be true, false or a ${{ }} expression, not {got}",
        {"got": _shown(value)},
    )


def timeout_value(value: Any) -> int | float | str:
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


def condition_value(value: Any) -> bool | str:
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
