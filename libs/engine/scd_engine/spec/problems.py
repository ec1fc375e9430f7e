"""Turn pydantic's validation errors into located, readable problems.

Contract: :func:`validation_problems` maps each error's ``loc`` back to the
YAML node it is about (the key's node for an unknown key, the parent mapping
for a missing one, the value's node otherwise) and rewrites pydantic's wording
into a sentence with a hint. Errors about combinations of keys (``scd_step_
structure``, ``scd_duplicate_id``) are skipped: :mod:`scd_engine.spec.checks`
reports those from the raw YAML, so they appear even when a value is invalid.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic_core import ErrorDetails
from scd_core.errors import Problem

from scd_engine.spec.pipeline import PIPELINE_KEYS, SHELLS, STEP_KEYS, TASK_KEYS, yaml_type
from scd_engine.spec.yamlsource import Loc, YamlSource

__all__ = ["did_you_mean", "validation_problems"]

_STR_TAG = "tag:yaml.org,2002:str"
_SKIPPED = {"scd_step_structure", "scd_duplicate_id"}
_PARTNERS = {"plugin": "uses", "uses": "plugin", "inputs": "with", "with": "inputs"}
_KEY_HINTS = {
    "on": "triggers belong to the app's trigger spec (scd.yaml), not to the pipeline",
    "true": "triggers belong to the app's trigger spec (scd.yaml), not to the pipeline",
    "jobs": "scd pipelines list 'steps' at the top level",
    "runs-on": "a step runs on the worker; there is no 'runs-on'",
    "runtimes": "serverless-cd's 'runtimes' is not supported: install tools in a run step",
}


def did_you_mean(word: str, choices: tuple[str, ...]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or ``""``."""
    import difflib  # only when something is wrong: keeps start-up short

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def validation_problems(
    errors: list[ErrorDetails], source: YamlSource, *, skip_structure: bool = True
) -> list[Problem]:
    """Located problems for pydantic ``errors`` raised validating ``source.data``.

    With ``skip_structure`` (the default), errors the raw-YAML checks also report
    are left out.
    """
    problems: list[Problem] = []
    for error in errors:
        skip = error["type"] in _SKIPPED or _is_double_spelling(error, source)
        if skip and skip_structure:
            continue
        loc: Loc = tuple(error["loc"])
        if error["type"] == "invalid_key":
            problems.append(_non_string_key(error, loc, source))
            continue
        on_key = error["type"] == "extra_forbidden"
        parent = error["type"] == "missing"
        where = source.locate(loc[:-1] if parent else loc, key=on_key)
        problems.append(Problem(source.file, where.line, where.column, _message(error, loc)))
    return problems


def _non_string_key(error: ErrorDetails, loc: Loc, source: YamlSource) -> Problem:
    """A key YAML read as a boolean or number (``on:`` is True in YAML 1.1)."""
    mapping = source.node(loc[:-1])
    node: yaml.Node | None = mapping
    raw = str(error["input"])
    if isinstance(mapping, yaml.MappingNode):
        for key_node, _value in mapping.value:
            same = isinstance(key_node, yaml.ScalarNode) and key_node.tag != _STR_TAG
            if same and yaml.safe_load(key_node.value) == error["input"]:
                node, raw = key_node, key_node.value
                break
    where = source.at(node)
    known = _known_keys(loc[:-1])
    if raw in known:
        message = f"key {raw} must be a string; hint: quote it ('{raw}')"
    else:
        message = _unknown_key(raw, loc[:-1])
    return Problem(source.file, where.line, where.column, message)


def _raw(source: YamlSource, loc: Loc) -> Any:
    value = source.data
    for element in loc:
        in_list = isinstance(value, list) and isinstance(element, int) and element < len(value)
        if not in_list and not (isinstance(value, dict) and element in value):
            return None
        value = value[element]
    return value


def _is_double_spelling(error: ErrorDetails, source: YamlSource) -> bool:
    """``uses`` next to ``plugin`` (or ``with`` next to ``inputs``) is reported by the checks."""
    if error["type"] != "extra_forbidden":
        return False
    key = error["loc"][-1]
    mapping = _raw(source, tuple(error["loc"][:-1]))
    return isinstance(mapping, dict) and _PARTNERS.get(str(key)) in mapping


def _field(loc: Loc) -> str:
    names = [str(e) for e in loc if isinstance(e, str) and not e.startswith("[")]
    if len(names) >= 2 and names[-2] in ("env", "with", "inputs"):
        return f"{names[-2]}.{names[-1]}"
    return names[-1] if names else "value"


def _in_step(loc: Loc) -> bool:
    return _step_number(loc) is not None


def _step_number(loc: Loc) -> int | None:
    """The 0-based index of the step ``loc`` is in (a pipeline's or a task's), else None."""
    start = 2 if len(loc) >= 2 and loc[0] == "tasks" else 0
    index = loc[start + 1] if len(loc) >= start + 2 and loc[start] == "steps" else None
    return index if isinstance(index, int) else None


def _in_task(loc: Loc) -> str | None:
    """The id of the task ``loc`` is in, else None."""
    return str(loc[1]) if len(loc) >= 2 and loc[0] == "tasks" else None


def _known_keys(parent: Loc) -> tuple[str, ...]:
    if _in_step(parent):
        return STEP_KEYS
    return TASK_KEYS if _in_task(parent) is not None and len(parent) == 2 else PIPELINE_KEYS


def _message(error: ErrorDetails, loc: Loc) -> str:
    kind, value = error["type"], error["input"]
    if kind == "scd_empty":
        return f"'{_field(loc)}' needs a value"
    if kind.startswith("scd_"):
        return error["msg"]
    if kind == "extra_forbidden":
        return _unknown_key(str(loc[-1]), loc[:-1])
    if kind == "missing":
        return (
            f"missing required key '{loc[-1]}'; hint: a pipeline lists its steps, "
            "such as 'steps: [{run: make test}]'"
        )
    if kind == "too_short" and loc and loc[-1] == "steps":
        return "'steps' is empty; hint: a pipeline needs at least one step, e.g. '- run: make'"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return _not_a_mapping(loc, value)
    if kind == "list_type":
        return f"'{_field(loc)}' must be a list, not {yaml_type(value)}"
    if kind == "literal_error" and loc[-1] == "shell":
        hint = did_you_mean(str(value), SHELLS)
        return f"'shell' must be one of {', '.join(SHELLS)}, not {value!r}{hint}"
    if kind == "string_type" and loc and loc[-1] == "[key]":
        return f"'{loc[-3]}' names must be strings, not {yaml_type(value)}"
    if kind == "string_type":
        return f"'{_field(loc)}' must be a string, not {yaml_type(value)}"
    return f"'{_field(loc)}': {error['msg']}"


def _unknown_key(key: str, parent: Loc) -> str:
    known = _known_keys(parent)
    number, task = _step_number(parent), _in_task(parent)
    where = "at top level" if task is None else f"in task '{task}'"
    if number is not None:
        where = f"in step {number + 1}" + ("" if task is None else f" of task '{task}'")
    hint = did_you_mean(key, known)
    if not hint and key.lower() in _KEY_HINTS:
        hint = f"; hint: {_KEY_HINTS[key.lower()]}"
    if not hint:
        hint = f"; known keys: {', '.join(known)}"
    return f"unknown key '{key}' {where}{hint}"


def _not_a_mapping(loc: Loc, value: Any) -> str:
    if loc == ():
        return (
            f"the pipeline must be a mapping with a 'steps' list, not {yaml_type(value)}; "
            "hint: start the file with 'steps:'"
        )
    if len(loc) in (2, 4) and _in_step(loc) and isinstance(loc[-1], int):
        hint = f"; did you mean '- run: {value}'?" if isinstance(value, str) else ""
        return f"a step must be a mapping such as '- run: make', not {yaml_type(value)}{hint}"
    return f"'{_field(loc)}' must be a mapping, not {yaml_type(value)}"
