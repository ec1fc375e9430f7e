"""Compile a validated pipeline into a :class:`~scd_engine.plan.model.Plan`.

Contract: :func:`compile_plan` is pure (no I/O, no contexts) and deterministic.
A pipeline built in code (it has no source location) has not met the linter,
so the compiler parses every ``${{ }}`` the runtime will evaluate (``name``,
``env``, ``with``, ``run``, ``working-directory``, ``if``,
``continue-on-error``, ``timeout-minutes``, the pipeline's ``env``) and checks
its context names and its reads of untrusted text in ``run``, by the linter's
rules, raising :class:`~scd_core.errors.SpecError` with every problem (each
naming its step). A pipeline from :func:`~scd_engine.spec.load_pipeline` passed
those very checks (located at ``file:line:column``) when it was loaded, so it
is not checked twice and compiling it raises nothing. A pipeline written as one
``steps:`` list becomes one task, :data:`~scd_core.models.DEFAULT_TASK`; one
with ``tasks:`` becomes its tasks in spec order, each with its ``needs``, its
``if`` (as a condition; None for the default ``success()``), its matrix
unexpanded and its ``env`` over the pipeline's. A graph the linter did not see
(built in code) is checked by :class:`Plan`, raising ``PlanError``.
"""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING, Any

from scd_core.errors import Problem, SpecError
from scd_core.models import DEFAULT_TASK

from scd_engine.expressions import ExpressionError, condition, find_expressions, parse
from scd_engine.expressions import referenced_paths as _paths
from scd_engine.plan.model import Matrix, Plan, PlanStep, PlanTask
from scd_engine.spec.checks import CONTEXTS
from scd_engine.spec.injection import injection_message, untrusted_reads
from scd_engine.spec.pipeline import MATRIX_KEYS
from scd_engine.spec.problems import did_you_mean

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scd_engine.spec import Pipeline, Step
    from scd_engine.spec.pipeline import Task

__all__ = ["compile_plan"]

_AFTER_CANCEL = re.compile(r"\b(always|cancelled)\s*\(", re.IGNORECASE)


def compile_plan(pipeline: Pipeline) -> Plan:
    """The plan of ``pipeline``; ``SpecError`` with every expression problem found."""
    checker = _Checker(pipeline.file or "<pipeline>", linted=pipeline.location is not None)
    for name, value in pipeline.env.items():
        checker.template(value, f"env.{name}")
    if pipeline.tasks:
        tasks = tuple(_task(checker, i, t, pipeline.env) for i, t in pipeline.tasks.items())
    else:
        steps = tuple(_step(checker, index, step) for index, step in enumerate(pipeline.steps))
        tasks = (PlanTask(id=DEFAULT_TASK, steps=steps, env=dict(pipeline.env)),)
    if checker.problems:
        raise SpecError(checker.problems)
    return Plan(tasks=tasks, name=pipeline.name, file=pipeline.file)


def _task(checker: _Checker, task_id: str, task: Task, env: Mapping[str, str]) -> PlanTask:
    steps = tuple(_step(checker, index, step) for index, step in enumerate(task.steps))
    if_value = task.if_
    if isinstance(if_value, bool):
        if_value = "true" if if_value else "false"
    expression: str | None = None
    if if_value:
        try:
            expression = condition(if_value)
        except ExpressionError as exc:
            checker.add(f"task {task_id}: invalid ${{{{ }}}} in 'if': {exc}", None)
    return PlanTask(
        id=task_id,
        steps=steps,
        name=str(task.name) if task.name else None,
        needs=tuple(task.needs),
        matrix=_matrix(task.matrix),
        env={**env, **task.env},
        condition=None if expression == "success()" else expression,
        outputs=dict(task.outputs),
        timeout_minutes=task.timeout_minutes,
        continue_on_error=task.continue_on_error,
    )


def _matrix(value: dict[str, Any] | str | None) -> Matrix:
    if value is None:
        return Matrix()
    if isinstance(value, str):
        return Matrix(source=value)
    rows = {
        part: v if isinstance(v, str) else tuple(_plain(r) for r in v)
        for part in ("include", "exclude")
        if (v := value.get(part)) is not None
    }
    axes = {
        name: v if isinstance(v, str) else tuple(_plain(v))
        for name, v in value.items()
        if name not in MATRIX_KEYS
    }
    return Matrix(
        axes=axes,
        include=rows.get("include", ()),
        exclude=rows.get("exclude", ()),
        fail_fast=value.get("fail-fast", True),
        max_parallel=value.get("max-parallel"),
    )


def _step(checker: _Checker, index: int, step: Step) -> PlanStep:
    if not checker.linted:
        _check_step(checker, index, step)
    if_value = step.if_
    if isinstance(if_value, bool):
        if_value = "true" if if_value else "false"
    expression: str | None = None
    if if_value:
        try:
            expression = condition(if_value)
        except ExpressionError as exc:
            checker.add(f"invalid ${{{{ }}}} in 'if': {exc}", index)
        else:
            checker.expression(expression, "if", index)
    location = step.location
    return PlanStep(
        key=step.key(index),
        index=index,
        kind=step.kind,
        body=str({"run": step.run, "uses": step.uses, "script": step.script}[step.kind]),
        label=_label(step),
        name=str(step.name) if step.name else None,
        condition=None if expression == "success()" else expression,
        after_cancel=bool(if_value and _AFTER_CANCEL.search(if_value)),
        env=dict(step.env),
        with_={str(k): _plain(v) for k, v in step.inputs.items()},
        working_directory=step.working_directory,
        shell=step.shell,
        timeout_minutes=step.timeout_minutes,
        continue_on_error=step.continue_on_error,
        location=str(location) if location is not None else None,
    )


def _check_step(checker: _Checker, index: int, step: Step) -> None:
    def check(value: object, field: str) -> None:
        if isinstance(value, str):
            checker.template(value, field, index)

    for key, value in (
        ("name", step.name),
        ("run", step.run),
        ("working-directory", step.working_directory),
        ("continue-on-error", step.continue_on_error),
        ("timeout-minutes", step.timeout_minutes),
    ):
        check(value, key)
    for name, value in step.env.items():
        check(value, f"env.{name}")
    for path, value in _strings(step.inputs, "with"):
        check(value, path)


class _Checker:
    """Collects every expression problem of a pipeline built in code, naming its step.

    Such a pipeline has no source file to point into, so a problem says which
    step (1-based) and which field instead of a line and a column.
    """

    def __init__(self, file: str, *, linted: bool) -> None:
        self.file = file
        self.linted = linted  # loaded: the linter checked it all, nothing to repeat
        self.problems: list[Problem] = []

    def add(self, message: str, step_no: int | None) -> None:
        prefix = "" if step_no is None else f"step {step_no + 1}: "
        self.problems.append(Problem(self.file, 0, 0, prefix + message))

    def template(self, text: str, field: str, step_no: int | None = None) -> None:
        if self.linted or "${{" not in text:
            return
        try:
            found = find_expressions(text)
        except ExpressionError as exc:
            self.add(f"invalid ${{{{ }}}} in '{field}': {exc}", step_no)
            return
        for _start, _end, source in found:
            self.expression(source, field, step_no)

    def expression(self, source: str, field: str, step_no: int | None) -> None:
        if self.linted:
            return
        try:
            parse(source, functions=())  # built-in functions only, as the linter parses
            paths = _paths(source)
        except ExpressionError as exc:
            self.add(f"invalid expression ${{{{ {source.strip()} }}}} in '{field}': {exc}", step_no)
            return
        for path in paths:
            head = path.partition(".")[0].lower()
            if head not in CONTEXTS:
                hint = did_you_mean(head, CONTEXTS) or f"; known contexts: {', '.join(CONTEXTS)}"
                self.add(f"unknown context '{head}' in '{field}'{hint}", step_no)
        if field == "run":
            for path, example in untrusted_reads(paths):
                self.add(injection_message(field, path, example, source), step_no)


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    """Every string inside ``value`` (a ``with`` mapping), with its dotted path."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{path}.{i}")]
    return []


def _plain(value: Any) -> Any:
    """``value`` as JSON data: YAML's dates (``2024-01-01`` unquoted) become their text."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _label(step: Step) -> str:
    """The step's name before it runs: its ``name`` as written, else one made up."""
    if step.name:
        return str(step.name)
    if step.kind == "run":
        first = next((ln for ln in str(step.run).splitlines() if ln.strip()), "")
        return f"Run {first.strip()}"
    if step.kind == "uses":
        return f"Run {step.uses}"
    return "Run script"
