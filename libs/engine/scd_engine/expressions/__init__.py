"""GitHub Actions' ``${{ }}`` expression language: our own lexer, parser and evaluator.

Entry points::

    evaluate("github.ref == 'refs/heads/main'", {"github": {...}})      → True
    render("v${{ inputs.version }}", contexts)                            → "v1.2"
    render_value("${{ fromJSON(x) }}", contexts)                          → the raw value
    condition("${{ git.branch == 'main' }}")  → "success() && (git.branch == 'main')"

Names allowed at the top level are the keys of ``contexts`` (case-insensitive); anything else
is a parsing error. Functions resolve first in ``functions`` (the runtime binds
success/failure/always/cancelled/hashFiles to the current run), then the built-ins. Without
``functions``, success() and always() are true, failure() and cancelled() false, and
hashFiles() fails asking for a workspace. Every error is an ExpressionError with ``kind``
"lexing", "parsing" or "evaluation".
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from .coercion import is_array, is_object, kind_of, to_bool, to_number, to_text
from .errors import ExpressionError
from .evaluator import MAX_MEMORY, Evaluator
from .functions import FunctionError
from .habits import github_form
from .hashfiles import hash_files
from .nodes import ContextAccess, FunctionCall, Grouping, IndexAccess, Literal, Node, walk
from .parser import BUILTIN_ARITY, Arity, parse_tokens
from .templates import find_expressions, render_value_with, render_with, strip_markers

__all__ = [
    "MAX_MEMORY",
    "STATUS_FUNCTIONS",
    "ExpressionError",
    "Node",
    "condition",
    "evaluate",
    "find_expressions",
    "github_form",
    "hash_files",
    "hash_files_function",
    "is_array",
    "is_object",
    "kind_of",
    "parse",
    "referenced_paths",
    "render",
    "render_value",
    "strip_markers",
    "to_bool",
    "to_text",
    "uses_status_function",
]

Functions = Mapping[str, Callable[..., Any]]

STATUS_FUNCTIONS = frozenset({"success", "failure", "always", "cancelled"})


def _no_workspace(*_patterns: Any) -> str:
    raise FunctionError("hashFiles() needs a workspace: it is only available while a job runs")


_DEFAULTS: dict[str, Callable[..., Any]] = {
    "success": lambda: True,
    "always": lambda: True,
    "failure": lambda: False,
    "cancelled": lambda: False,
    "hashfiles": _no_workspace,
}


@functools.lru_cache(maxsize=2048)
def _parse_cached(
    expression: str, names: frozenset[str] | None, functions: frozenset[str] | None
) -> Node | None:
    arities: dict[str, Arity | None] | None = None
    if functions is not None:
        arities = {name: BUILTIN_ARITY.get(name) for name in functions}
    return parse_tokens(expression, names, arities)


def parse(
    expression: str,
    allowed_names: Collection[str] | None = None,
    *,
    functions: Collection[str] | None = None,
) -> Node | None:
    """Parse an expression (without ``${{ }}``) into a tree; None for an empty expression.

    ``allowed_names``: legal top-level names (None allows any). ``functions``: names of extra
    functions beyond the built-ins and status functions (None allows any function name).
    Lexing and parsing errors raise ExpressionError.
    """
    names = None if allowed_names is None else frozenset(n.lower() for n in allowed_names)
    known = None
    if functions is not None:
        known = frozenset(BUILTIN_ARITY) | frozenset(f.lower() for f in functions)
    return _parse_cached(expression, names, known)


def _resolve(functions: Functions | None) -> dict[str, Callable[..., Any]]:
    resolved = dict(_DEFAULTS)
    for name, implementation in (functions or {}).items():
        resolved[name.lower()] = implementation
    return resolved


def evaluate(
    expression: str,
    contexts: Mapping[str, Any],
    *,
    functions: Functions | None = None,
) -> Any:
    """Evaluate one expression (without ``${{ }}``) against ``contexts``; see the module doc."""
    resolved = _resolve(functions)
    node = parse(expression, list(contexts), functions=list(resolved))
    return Evaluator(expression, contexts, resolved).evaluate(node)


def render(
    template: str, contexts: Mapping[str, Any], *, functions: Functions | None = None
) -> str:
    """Substitute every ``${{ expr }}`` in ``template`` with its value as text (null → '',
    booleans "true"/"false", numbers as GitHub prints them, arrays/objects as JSON)."""
    return render_with(template, lambda source: evaluate(source, contexts, functions=functions))


def render_value(
    template: str, contexts: Mapping[str, Any], *, functions: Functions | None = None
) -> Any:
    """Like ``render``, but a template that is exactly one ``${{ expr }}`` gives the raw value."""
    return render_value_with(
        template, lambda source: evaluate(source, contexts, functions=functions)
    )


def _segment(index: Node) -> str:
    """A path segment for an index: the property name, the element number of a literal
    array index, or ``*`` for anything computed or that could select an element in a way a
    plain number would not show (``' 0x01 '`` reads element 1 of an array)."""
    if isinstance(index, Literal):
        value = index.value
        if isinstance(value, str):
            number = to_number(value)
            if value.isdigit() or math.isnan(number):
                return value
            return "*"
        number_literal = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number_literal and math.isfinite(value) and value >= 0:
            return str(math.floor(value))
    return "*"


def _path_of(node: Node) -> list[str] | None:
    """The dotted path an access chain reads, or None when it does not start at a name."""
    if isinstance(node, ContextAccess):
        return [node.name]
    if isinstance(node, Grouping):
        return _path_of(node.expr)
    if isinstance(node, IndexAccess):
        base = _path_of(node.obj)
        return None if base is None else [*base, _segment(node.index)]
    return None


def referenced_paths(expression: str) -> list[str]:
    """Every context path the expression reads, dotted, in source order without repeats:
    ``*`` for filters and computed indexes (``github.event.commits.*.message``), the number
    for a literal array index (``event.commits.0.message``). Names keep their spelling (they
    match case-insensitively). Names and functions are not checked; syntax errors raise
    ExpressionError."""
    node = parse(expression)
    if node is None:
        return []
    paths: list[str] = []
    covered: set[int] = set()  # nodes already inside a longer chain
    for n in walk(node):
        if id(n) in covered or not isinstance(n, (ContextAccess, IndexAccess)):
            continue
        path = _path_of(n)
        if path is None:
            continue
        inner: Node = n
        while isinstance(inner, (IndexAccess, Grouping)):
            covered.add(id(inner))
            inner = inner.obj if isinstance(inner, IndexAccess) else inner.expr
        covered.add(id(inner))
        dotted = ".".join(path)
        if dotted not in paths:
            paths.append(dotted)
    return paths


_STATUS_CALL = re.compile(r"\b(?:success|failure|always|cancelled)\s*\(", re.IGNORECASE)


def uses_status_function(expression: str) -> bool:
    """True when the expression calls success(), failure(), always() or cancelled()."""
    try:
        node = parse(expression)
    except ExpressionError:
        return bool(_STATUS_CALL.search(expression))
    if node is None:
        return False
    return any(
        isinstance(n, FunctionCall) and n.name.lower() in STATUS_FUNCTIONS for n in walk(node)
    )


def condition(expression: str) -> str:
    """An ``if:`` value as written (with or without ``${{ }}``) → the expression to evaluate:
    markers stripped, and wrapped as ``success() && (...)`` unless a status function is used.
    An empty condition is ``success()``."""
    inner = strip_markers(expression)
    if not inner:
        return "success()"
    if uses_status_function(inner):
        return inner
    return f"success() && ({inner})"


def hash_files_function(workspace: Path) -> Callable[..., str]:
    """A ``hashFiles`` implementation bound to ``workspace``, for ``functions=``."""

    def hash_files_in_workspace(*patterns: Any) -> str:
        return hash_files(workspace, [to_text(p) for p in patterns])

    return hash_files_in_workspace
