"""Warnings for serverless-cd's habits that scd accepts or reads differently.

Contract: :func:`without_on` returns the pipeline data without a top-level
``on:`` (serverless-cd ignores it; YAML 1.1 reads the key as ``true``) and the
warning saying so. :func:`habit_problems` returns warnings, never errors:

- ``{{ ctx.path }}`` without ``$`` in ``run:``: art-template rendered it in
  serverless-cd; scd leaves it as shell text (Go templates and others use
  ``{{ }}`` too), so it warns only when the inside is a context path;
- a step's ``if:`` reading ``env.X`` that the step's own ``env`` sets: as in
  GitHub Actions, the step's env is not set yet when its ``if`` is evaluated
  (serverless-cd merged it first).

Warnings never stop loading or running a pipeline.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from scd_core.errors import Problem

from scd_engine.expressions import ExpressionError, referenced_paths, strip_markers
from scd_engine.spec.checks import CONTEXTS
from scd_engine.spec.yamlsource import YamlSource

__all__ = ["habit_problems", "without_on"]

_BARE = re.compile(r"(?<![$\\{])\{\{\s*([^{}]*?)\s*\}\}(?!\})")
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_*-]+|\[[^\[\]]*\])+")


def without_on(source: YamlSource) -> tuple[Any, list[Problem]]:
    """``source.data`` without a top-level ``on:`` key, and the warning about it."""
    data = source.data
    if not isinstance(data, dict):
        return data, []
    mapping = source.node(())
    for key_node, _value in mapping.value if isinstance(mapping, yaml.MappingNode) else ():
        text = str(key_node.value)
        if text.lower() == "on" and (True in data or text in data):
            where = source.at(key_node)
            message = (
                f"'{text}:' is ignored (as serverless-cd ignores it): triggers belong to the"
                " app's trigger spec (scd.yaml or the app API), not to the pipeline"
            )
            problem = Problem(source.file, where.line, where.column, message, "warning")
            kept = {k: v for k, v in data.items() if k is not True and k != text}
            return kept, [problem]
    return data, []


def habit_problems(source: YamlSource) -> list[Problem]:
    """Every habit warning in ``source`` (see the module doc)."""
    data = source.data
    steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        return []
    problems: list[Problem] = []
    for index, step in enumerate(steps):
        if isinstance(step, dict):
            problems.extend(_bare_templates(source, index, step))
            problems.extend(_own_env_in_if(source, index, step))
    return problems


def _warning(source: YamlSource, node: yaml.Node | None, message: str) -> Problem:
    where = source.at(node)
    return Problem(source.file, where.line, where.column, message, "warning")


def _bare_templates(source: YamlSource, index: int, step: dict[Any, Any]) -> list[Problem]:
    run = step.get("run")
    if not isinstance(run, str) or "{{" not in run:
        return []
    node = source.node(("steps", index, "run"))
    problems = []
    for match in _BARE.finditer(run):
        inside = match.group(1)
        head = inside.split(".", 1)[0].split("[", 1)[0].lower()
        if not _PATH.fullmatch(inside) or head not in CONTEXTS:
            continue
        at = source.text_position(node, match.start()) if node is not None else source.at(node)
        message = (
            f"'{match.group(0)}' in 'run' stays shell text in scd (serverless-cd rendered"
            f" bare {{{{ }}}}); did you mean `${{{{ {inside} }}}}`?"
        )
        problems.append(Problem(source.file, at.line, at.column, message, "warning"))
    return problems


def _own_env_in_if(source: YamlSource, index: int, step: dict[Any, Any]) -> list[Problem]:
    env, condition = step.get("env"), step.get("if")
    if not isinstance(env, dict) or not env or not isinstance(condition, str):
        return []
    try:
        paths = referenced_paths(strip_markers(condition))
    except ExpressionError:
        return []  # the expression checks report it
    own = {str(name).lower(): str(name) for name in env}
    problems = []
    for path in paths:
        head, _, rest = path.partition(".")
        name = rest.split(".", 1)[0]
        if head.lower() == "env" and name.lower() in own:
            message = (
                f"'if' reads env.{name}, which this step's own 'env' sets: as in GitHub"
                " Actions, a step's env is not set yet when its 'if' is evaluated"
                " (serverless-cd set it first); hint: set it in the pipeline's 'env', or"
                " test the value itself"
            )
            problems.append(_warning(source, source.node(("steps", index, "if")), message))
    return problems
