"""Expand a task's matrix into task instances, by GitHub Actions' documented rules.

Contract: :func:`expand` is pure and deterministic. It evaluates the matrix's
``${{ }}`` values (the whole matrix, an axis, ``include``, ``exclude``,
``fail-fast``, ``max-parallel``) against ``contexts`` (usually ``needs``, ``git``,
``inputs``, ``env``), then builds the instances as GitHub does: the product of
the axes in the order written (the first axis varies slowest); ``exclude`` rows
remove every combination they match on all of their keys (a partial row
matches many); each ``include`` row is merged into every combination whose
original axis values it does not change (values added by an earlier row may be
overwritten), and becomes a combination of its own when it fits none. A task
without a matrix is one instance named by the task's id. More than
:data:`MAX_INSTANCES` instances, or a value of the wrong shape, raises
:class:`~scd_engine.plan.model.PlanError` saying which.

Instance ids are GitHub's matrix job names with the task's id:
``build (18, linux)`` (every value of the combination, in order; objects and
lists as JSON); ``name`` is the same with the task's ``name`` when it has one.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scd_engine.expressions import ExpressionError, render_value, to_bool, to_text
from scd_engine.plan.model import PlanError, PlanTask

__all__ = ["MAX_INSTANCES", "Instance", "MatrixSettings", "expand"]

MAX_INSTANCES = 256
"""GitHub's cap on the jobs one matrix may generate."""


@dataclass(frozen=True)
class Instance:
    """One task instance: its id (its record's key), its display name, its ``matrix``."""

    id: str
    name: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MatrixSettings:
    """The instances of a task and how they run: ``fail_fast``, ``max_parallel``."""

    instances: tuple[Instance, ...]
    fail_fast: bool = True
    max_parallel: int | None = None


def expand(task: PlanTask, contexts: Mapping[str, Any]) -> MatrixSettings:
    """The instances of ``task`` with its matrix evaluated against ``contexts``."""
    matrix = task.matrix
    label = task.name or task.id
    if matrix.empty:
        return MatrixSettings((Instance(task.id, label),))
    if matrix.source is not None:
        whole = _value(matrix.source, contexts, task.id, "matrix")
        if not isinstance(whole, Mapping):
            raise PlanError(f"task {task.id}: 'matrix' gave {_kind(whole)}, not a mapping")
        special = ("include", "exclude", "fail-fast", "max-parallel")
        axes = {str(k): v for k, v in whole.items() if k not in special}
        parts = {k: whole.get(k) for k in special}
    else:
        axes = dict(matrix.axes)
        parts = {
            "include": matrix.include,
            "exclude": matrix.exclude,
            "fail-fast": matrix.fail_fast,
            "max-parallel": matrix.max_parallel,
        }
    values = {name: _axis(name, v, contexts, task.id) for name, v in axes.items()}
    include = _rows(parts["include"], contexts, task.id, "include")
    exclude = _rows(parts["exclude"], contexts, task.id, "exclude")
    combos = _combinations(values, include, exclude)
    if not combos:
        raise PlanError(f"task {task.id}: its matrix has no combination left after 'exclude'")
    if len(combos) > MAX_INSTANCES:
        count = len(combos)
        raise PlanError(
            f"task {task.id}: its matrix makes {count} instances (at most {MAX_INSTANCES})"
        )
    instances = tuple(
        Instance(f"{task.id} ({_shown(c)})", f"{label} ({_shown(c)})", c) for c in combos
    )
    if len({i.id for i in instances}) != len(instances):
        raise PlanError(f"task {task.id}: two combinations of its matrix are the same")
    fail_fast = to_bool(_resolved(parts["fail-fast"], contexts, task.id, "fail-fast", True))
    limit = _resolved(parts["max-parallel"], contexts, task.id, "max-parallel", None)
    if limit is not None and not (isinstance(limit, (int, float)) and limit >= 1):
        raise PlanError(f"task {task.id}: 'max-parallel' gave {limit!r}, not a positive number")
    return MatrixSettings(instances, fail_fast, None if limit is None else int(limit))


def _combinations(
    axes: dict[str, list[Any]], include: list[dict[str, Any]], exclude: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    names = list(axes)
    product = [dict(zip(names, row, strict=True)) for row in itertools.product(*axes.values())]
    if not names:
        product = []
    kept = [c for c in product if not any(_matches(c, row) for row in exclude)]
    originals = [dict(c) for c in kept]
    extra: list[dict[str, Any]] = []
    for row in include:
        merged = False
        for combo, original in zip(kept, originals, strict=True):
            if all(original[k] == v for k, v in row.items() if k in original):
                combo.update(row)
                merged = True
        if not merged:
            extra.append(dict(row))
    return kept + extra


def _matches(combo: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    return all(k in combo and combo[k] == v for k, v in row.items())


def _value(text: str, contexts: Mapping[str, Any], task_id: str, what: str) -> Any:
    try:
        return render_value(text, contexts)
    except ExpressionError as exc:
        raise PlanError(f"task {task_id}: cannot evaluate its {what}: {exc}") from exc


def _resolved(
    value: Any, contexts: Mapping[str, Any], task_id: str, what: str, default: Any
) -> Any:
    if value is None:
        return default
    return _value(value, contexts, task_id, what) if isinstance(value, str) else value


def _axis(name: str, value: Any, contexts: Mapping[str, Any], task_id: str) -> list[Any]:
    if isinstance(value, str):
        value = _value(value, contexts, task_id, f"matrix axis '{name}'")
    if not isinstance(value, (list, tuple)) or not value:
        raise PlanError(
            f"task {task_id}: matrix axis '{name}' gave {_kind(value)}, not a list of values"
        )
    return list(value)


def _rows(value: Any, contexts: Mapping[str, Any], task_id: str, what: str) -> list[dict[str, Any]]:
    if isinstance(value, str):
        value = _value(value, contexts, task_id, f"matrix '{what}'")
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(r, Mapping) for r in value):
        raise PlanError(
            f"task {task_id}: matrix '{what}' gave {_kind(value)}, not a list of mappings"
        )
    return [{str(k): v for k, v in row.items()} for row in value]


def _shown(combo: Mapping[str, Any]) -> str:
    parts = []
    for value in combo.values():
        if isinstance(value, (Mapping, list, tuple)):
            parts.append(json.dumps(value, separators=(",", ":"), sort_keys=True))
        else:
            parts.append(to_text(value))
    return ", ".join(parts)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    return "a list" if isinstance(value, (list, tuple)) else f"a {type(value).__name__}"
