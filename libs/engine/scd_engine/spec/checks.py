"""Checks that read the raw YAML: key combinations, ids and ``${{ }}`` expressions.

Contract: :func:`spec_problems` takes a parsed :class:`YamlSource` whose data
may be invalid in any way and returns every problem it can find without
raising: a step's kind (exactly one of ``run``, ``uses``, ``script``), keys
that only fit some kinds, both spellings of an aliased key, duplicate ids,
then every ``${{ }}`` in a templated field (syntax, context names, references
to earlier steps' ids, untrusted input in ``run:`` and ``script:``).
Values of the wrong type are skipped here: the model validation reports them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from scd_core.errors import Problem

from scd_engine.expressions import (
    ExpressionError,
    find_expressions,
    github_form,
    parse,
    referenced_paths,
    uses_status_function,
)
from scd_engine.spec.graph import graph_problems
from scd_engine.spec.injection import injection_message, tainted_env, untrusted_reads
from scd_engine.spec.pipeline import (
    ID_PATTERN,
    STEP_KEYS,
    is_whole_expression,
    step_structure_messages,
)
from scd_engine.spec.problems import did_you_mean
from scd_engine.spec.yamlsource import Loc, SourceLocation, YamlSource

__all__ = ["CONTEXTS", "spec_problems"]

CONTEXTS: tuple[str, ...] = (
    "git", "event", "env", "secrets", "steps", "inputs", "matrix", "needs", "task", "app",
    "vars", "runner", "job", "sts",
)  # fmt: skip
_TEMPLATED = ("name", "working-directory", "continue-on-error", "timeout-minutes", "run", "script")
_TASK_TEMPLATED = ("name", "continue-on-error", "timeout-minutes")
_SCRIPTS = ("run", "script")
_Add = Callable[..., None]


@dataclass
class _Checker:
    source: YamlSource
    problems: list[Problem] = field(default_factory=list)
    ids: dict[str, int] = field(default_factory=dict)
    earlier: set[str] = field(default_factory=set)  # ids so far, lower case
    # env names (lower case) whose values read untrusted text: the pipeline's, then a step's
    tainted: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()  # the current task's needs, lower case

    def add(self, node: yaml.Node | None, message: str, severity: str = "error") -> None:
        where = self.source.at(node)
        self.problems.append(Problem(self.source.file, where.line, where.column, message, severity))

    def add_at(self, loc: Loc, message: str, *, key: bool = False) -> None:
        self.add(self.source.node(loc, key=key), message)


def spec_problems(source: YamlSource) -> list[Problem]:
    """Every structural and expression problem in ``source`` (errors and warnings)."""
    checker = _Checker(source)
    data = source.data
    if not isinstance(data, dict):
        return []
    _check_templates(checker, (), data, ("name",), earlier=set())
    pipeline_tainted = tainted_env(data.get("env"))
    _check_steps(checker, (), data.get("steps"), pipeline_tainted)
    tasks = data.get("tasks")
    if isinstance(tasks, dict):
        _check_tasks(checker, tasks, pipeline_tainted)
    return checker.problems


def _check_steps(checker: _Checker, loc: Loc, steps: Any, tainted: frozenset[str]) -> None:
    """Check the steps list at ``(*loc, "steps")``; step ids are known from here on."""
    if isinstance(steps, list):
        for index, step in enumerate(steps):
            if isinstance(step, dict):
                checker.tainted = tainted_env(step.get("env"), tainted)
                _check_step(checker, index, step, loc)


def _check_tasks(checker: _Checker, tasks: dict[Any, Any], tainted: frozenset[str]) -> None:
    """Every task's fields, steps and expressions, then the graph of their ``needs``."""
    for task_id, task in tasks.items():
        if not isinstance(task, dict):
            continue
        loc: Loc = ("tasks", task_id)
        needs = task.get("needs")
        needs = [needs] if isinstance(needs, str) else needs if isinstance(needs, list) else []
        checker.needs = frozenset(str(n).lower() for n in needs)
        checker.ids, checker.earlier = {}, set()
        checker.tainted = tainted_env(task.get("env"), tainted)
        task_tainted = checker.tainted
        _check_templates(checker, loc, task, _TASK_TEMPLATED, earlier=set())
        if isinstance(task.get("if"), str):
            _check_condition(checker, (*loc, "if"), task["if"], set())
        _check_nested(checker, (*loc, "matrix"), task.get("matrix"), set())
        _check_steps(checker, loc, task.get("steps"), task_tainted)
        outputs = task.get("outputs")
        if isinstance(outputs, dict):  # read after the steps: every step id is known
            for name, value in outputs.items():
                if isinstance(value, str):
                    where = (*loc, "outputs", name)
                    _check_template(checker, where, value, checker.earlier, field="outputs")
    checker.needs = frozenset()
    graph_problems(tasks, checker.add_at)


def _check_step(checker: _Checker, index: int, step: dict[Any, Any], task: Loc = ()) -> None:
    loc: Loc = (*task, "steps", index)
    keys = {str(k) for k in step}
    for culprit, message in step_structure_messages(keys):
        if culprit is None and _misspelt_kind(keys):
            continue  # the unknown-key error already says "did you mean 'run'?"
        checker.add_at((*loc, culprit) if culprit else loc, message, key=culprit is not None)
    for first, second in (("uses", "plugin"), ("with", "inputs")):
        if first in keys and second in keys:
            message = f"give '{first}' or '{second}' (serverless-cd's spelling), not both"
            checker.add_at((*loc, second), message, key=True)
    earlier = checker.earlier  # this step's own id joins it only below
    _check_templates(checker, loc, step, _TEMPLATED, earlier)
    condition = step.get("if")
    if isinstance(condition, str):
        _check_condition(checker, (*loc, "if"), condition, earlier)
    for key in ("with", "inputs"):
        _check_nested(checker, (*loc, key), step.get(key), earlier)
    step_id = step.get("id")
    if isinstance(step_id, str) and ID_PATTERN.fullmatch(step_id):
        if step_id in checker.ids:
            message = f"duplicate step id '{step_id}' (step {checker.ids[step_id] + 1} has it too)"
            checker.add_at((*loc, "id"), message)
        else:
            checker.ids[step_id] = index
            checker.earlier.add(step_id.lower())


def _misspelt_kind(keys: set[str]) -> bool:
    kinds = ("run", "uses", "plugin", "script")
    return any(did_you_mean(k, kinds) for k in keys if k not in STEP_KEYS)


def _check_templates(
    checker: _Checker, loc: Loc, mapping: dict[Any, Any], keys: tuple[str, ...], earlier: set[str]
) -> None:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, str):
            _check_template(checker, (*loc, key), value, earlier, field=key)
    env = mapping.get("env")
    if isinstance(env, dict):
        for name, value in env.items():
            if isinstance(value, str):
                _check_template(checker, (*loc, "env", name), value, earlier, field="env")


def _check_nested(
    checker: _Checker, loc: Loc, value: Any, earlier: set[str], field: str | None = None
) -> None:
    field = field or str(loc[-1])  # the key holding the nested value: 'with', 'matrix'
    if isinstance(value, str):
        _check_template(checker, loc, value, earlier, field=field)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_nested(checker, (*loc, key), item, earlier, field)
    elif isinstance(value, list):
        for position, item in enumerate(value):
            _check_nested(checker, (*loc, position), item, earlier, field)


def _check_template(
    checker: _Checker, loc: Loc, text: str, earlier: set[str], *, field: str
) -> None:
    if "${{" not in text:
        return
    node = checker.source.node(loc)
    try:
        found = find_expressions(text)
    except ExpressionError as exc:
        checker.add(node, f"invalid ${{{{ }}}} in '{field}': {exc}")
        return
    for start, _end, expression in found:
        at = checker.source.text_position(node, start) if node is not None else None
        _check_expression(checker, node, at, expression, earlier, field=field)


def _check_condition(checker: _Checker, loc: Loc, text: str, earlier: set[str]) -> None:
    node = checker.source.node(loc)
    if "${{" not in text:
        _check_expression(checker, node, None, text, earlier, field="if")
    elif is_whole_expression(text):
        _check_template(checker, loc, text, earlier, field="if")
    else:
        _check_template(checker, loc, text, earlier, field="if")
        checker.add(
            node,
            "'if' mixes ${{ }} with other text, so it is a non-empty string and always true; "
            "hint: write the whole condition inside one ${{ }} (or without ${{ }})",
            "warning",
        )


def _check_expression(
    checker: _Checker,
    node: yaml.Node | None,
    at: SourceLocation | None,
    expression: str,
    earlier: set[str],
    *,
    field: str,
) -> None:
    where = at if at is not None else checker.source.at(node)

    def add(message: str, severity: str = "error") -> None:
        problem = Problem(checker.source.file, where.line, where.column, message, severity)
        checker.problems.append(problem)

    try:
        parse(expression, functions=())  # built-in functions only: catches typos
        paths = referenced_paths(expression)
    except ExpressionError as exc:
        hint = _function_hint(exc)
        add(f"invalid expression ${{{{ {expression.strip()} }}}} in '{field}': {exc}{hint}")
        return
    for path in paths:
        _check_path(add, path, earlier, checker.needs)
    _check_habits(add, expression)
    if field in _SCRIPTS:
        for path, example in untrusted_reads(paths, checker.tainted):
            add(injection_message(field, path, example, expression))
    if field != "if" and uses_status_function(expression):
        add(f"status functions such as success() only make sense in 'if', not in '{field}'",
            "warning")  # fmt: skip


_FUNCTIONS = (
    "always", "cancelled", "case", "contains", "endsWith", "failure", "format", "fromJSON",
    "hashFiles", "join", "startsWith", "success", "toJSON",
)  # fmt: skip
_UNKNOWN_FUNCTION = "Unrecognized function: '"


def _function_hint(exc: ExpressionError) -> str:
    """``"; did you mean 'always'?"`` for an unknown function close to a built-in one."""
    if not exc.description.startswith(_UNKNOWN_FUNCTION):
        return ""
    name = exc.description[len(_UNKNOWN_FUNCTION) :].rstrip("'").lower()
    import difflib  # only when something is wrong, as did_you_mean

    by_lower = {known.lower(): known for known in _FUNCTIONS}
    close = difflib.get_close_matches(name, list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean '{by_lower[close[0]]}()'?" if close else ""


def _check_path(add: _Add, path: str, earlier: set[str], needs: frozenset[str]) -> None:
    head, _, rest = path.lower().partition(".")
    if head not in CONTEXTS:
        hint = did_you_mean(head, CONTEXTS) or f"; known contexts: {', '.join(CONTEXTS)}"
        if head == "github":
            hint = (
                "; hint: use git for normalised fields (git.branch, git.commit) and event "
                "for the raw payload (GitHub's github.event)"
            )
        add(f"unknown context '{head}'{hint}")
        return
    step_id = rest.split(".", 1)[0]
    if head == "needs" and step_id and step_id != "*" and step_id not in needs:
        add(
            f"needs.{step_id} refers to a task this task does not need; hint: add "
            f"'{step_id}' to its 'needs' (a task reads the outputs and result of the tasks "
            "it needs)" + did_you_mean(step_id, tuple(sorted(needs)))
        )
    if head == "steps" and step_id and step_id != "*" and step_id not in earlier:
        add(
            f"steps.{step_id} refers to no earlier step; hint: a step can read the "
            "outputs and outcome of steps before it, by their 'id'"
            + did_you_mean(step_id, tuple(sorted(earlier))),
            "warning",
        )


def _check_habits(add: _Add, expression: str) -> None:
    """Warn about serverless-cd's JavaScript spellings (accepted), showing GitHub's."""
    form = github_form(expression)
    if form is None:
        return
    caveat = ""
    if "===" in expression or "!==" in expression:
        caveat = " (== ignores letter case and converts kinds, where === does neither)"
    if "hashFiles" in form and "hashfile(" in expression.lower().replace(" ", ""):
        caveat += " (hashFiles is a SHA-256, serverless-cd's hashFile a SHA-1: cache keys change)"
    add(
        f"${{{{ {expression.strip()} }}}} is written the JavaScript way (serverless-cd's"
        f" habit; it works); GitHub's form is ${{{{ {form.strip()} }}}}{caveat}",
        "warning",
    )
