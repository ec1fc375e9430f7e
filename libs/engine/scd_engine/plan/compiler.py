"""Compile a validated pipeline into a :class:`~scd_engine.plan.model.Plan`.

Contract: :func:`compile_plan` is pure (no I/O, no contexts) and deterministic.
It parses every ``${{ }}`` the runtime will evaluate (``name``, ``env``,
``with``, ``run``, ``working-directory``, ``if``, ``continue-on-error``,
``timeout-minutes``, the pipeline's ``env``) and checks its context names and
its reads of untrusted text in ``run``, with the linter's own rules. A pipeline
from :func:`~scd_engine.spec.load_pipeline` has passed those checks already, so
compiling it raises nothing; a pipeline built in code gets the same scrutiny
here: :class:`~scd_core.errors.SpecError` listing every problem, located at the
step's ``file:line:column`` when known. A pipeline written as one ``steps:``
list becomes one task, :data:`~scd_core.models.DEFAULT_TASK`.
"""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING, Any

from scd_core.errors import Problem, SpecError
from scd_core.models import DEFAULT_TASK

from scd_engine.expressions import ExpressionError, condition, find_expressions, parse
from scd_engine.expressions import referenced_paths as _paths
from scd_engine.plan.model import Plan, PlanStep, PlanTask
from scd_engine.spec.checks import CONTEXTS
from scd_engine.spec.injection import injection_message, untrusted_reads
from scd_engine.spec.problems import did_you_mean

if TYPE_CHECKING:
    from scd_engine.spec import Pipeline, SourceLocation, Step

__all__ = ["compile_plan"]

_AFTER_CANCEL = re.compile(r"\b(always|cancelled)\s*\(", re.IGNORECASE)


def compile_plan(pipeline: Pipeline) -> Plan:
    """The plan of ``pipeline``; ``SpecError`` with every expression problem found."""
    checker = _Checker(pipeline.file or "<pipeline>")
    for name, value in pipeline.env.items():
        checker.template(value, f"env.{name}", pipeline.location)
    steps = tuple(_step(checker, index, step) for index, step in enumerate(pipeline.steps))
    if checker.problems:
        raise SpecError(checker.problems)
    task = PlanTask(id=DEFAULT_TASK, steps=steps, env=dict(pipeline.env))
    return Plan(tasks=(task,), name=pipeline.name, file=pipeline.file)


def _step(checker: _Checker, index: int, step: Step) -> PlanStep:
    def check(value: object, key: str, field: str = "") -> None:
        if isinstance(value, str):
            checker.template(value, field or key, step.location_of(key), step_no=index)

    for key, value in (
        ("name", step.name),
        ("run", step.run),
        ("working-directory", step.working_directory),
        ("continue-on-error", step.continue_on_error),
        ("timeout-minutes", step.timeout_minutes),
    ):
        check(value, key)
    for name, value in step.env.items():
        check(value, "env", f"env.{name}")
    for path, value in _strings(step.inputs, "with"):
        check(value, "with", path)
    if_value = step.if_
    if isinstance(if_value, bool):
        if_value = "true" if if_value else "false"
    expression: str | None = None
    if if_value:
        try:
            expression = condition(if_value)
        except ExpressionError as exc:
            checker.add(step.location_of("if"), f"invalid ${{{{ }}}} in 'if': {exc}", index)
        else:
            checker.expression(expression, "if", step.location_of("if"), index)
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
        location=str(step.location) if step.location is not None else None,
    )


class _Checker:
    """Collects the problems of every expression, located like the linter's."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, where: SourceLocation | None, message: str, step_no: int | None = None) -> None:
        if where is None:  # built in code: say which step instead
            prefix = "" if step_no is None else f"step {step_no + 1}: "
            self.problems.append(Problem(self.file, 0, 0, prefix + message))
        else:
            self.problems.append(Problem(where.file, where.line, where.column, message))

    def template(
        self, text: str, field: str, where: SourceLocation | None, step_no: int | None = None
    ) -> None:
        if "${{" not in text:
            return
        try:
            found = find_expressions(text)
        except ExpressionError as exc:
            self.add(where, f"invalid ${{{{ }}}} in '{field}': {exc}", step_no)
            return
        for _start, _end, source in found:
            self.expression(source, field, where, step_no)

    def expression(
        self, source: str, field: str, where: SourceLocation | None, step_no: int | None
    ) -> None:
        try:
            parse(source, functions=())  # built-in functions only, as the linter parses
            paths = _paths(source)
        except ExpressionError as exc:
            message = f"invalid expression ${{{{ {source.strip()} }}}} in '{field}': {exc}"
            self.add(where, message, step_no)
            return
        for path in paths:
            head = path.partition(".")[0].lower()
            if head not in CONTEXTS:
                hint = did_you_mean(head, CONTEXTS) or f"; known contexts: {', '.join(CONTEXTS)}"
                self.add(where, f"unknown context '{head}' in '{field}'{hint}", step_no)
        if field == "run":
            for path, example in untrusted_reads(paths):
                self.add(where, injection_message(field, path, example, source), step_no)


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
