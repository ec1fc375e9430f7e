"""Tree-walking evaluation with GitHub's semantics and memory limit.

Memory is accounted the way actions/runner does it: each node's result is charged at the
node's depth (strings 26 + 2 bytes a character, anything else 24), a primitive result frees
what deeper nodes held, and going over ``MAX_MEMORY`` is an evaluation error. So is a single
``format()`` or ``toJSON()`` building more text than the limit allows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from . import functions as builtin
from .coercion import (
    FilteredArray,
    coerce_string,
    equals,
    greater_than,
    is_array,
    is_object,
    is_primitive,
    less_than,
    lookup,
    strict_equals,
    to_bool,
    to_number,
)
from .errors import ExpressionError
from .nodes import (
    Binary,
    ContextAccess,
    FunctionCall,
    Grouping,
    IndexAccess,
    Literal,
    Logical,
    Node,
    Star,
    Unary,
    walk,
)

__all__ = ["MAX_MEMORY", "Evaluator"]

MAX_MEMORY = 1024 * 1024  # bytes, as GitHub's expression evaluation allows
MEMORY_ERROR = "The maximum allowed memory size was exceeded"


def _size(value: Any) -> int:
    return 26 + 2 * len(value) if isinstance(value, str) else 24


class _Memory:
    """Bytes held per tree depth; mirrors actions/runner's EvaluationMemory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.depths: list[int] = []
        self.active = -1
        self.total = 0

    def add(self, depth: int, amount: int, trim: bool) -> None:
        if trim:
            while self.active > depth:
                self.total -= self.depths[self.active]
                self.depths[self.active] = 0
                self.active -= 1
        if depth > self.active:
            self.depths.extend([0] * (depth + 1 - len(self.depths)))
            self.active = depth
        self.depths[depth] += amount
        self.total += amount
        if self.total > self.limit:
            raise builtin.FunctionError(MEMORY_ERROR)


class Evaluator:
    """Evaluates one parsed tree against ``contexts`` (names looked up case-insensitively).

    ``functions`` maps lower-case names to callables taking evaluated arguments; they are
    consulted before the built-ins. Errors raise ExpressionError(kind="evaluation").
    """

    def __init__(
        self,
        source: str,
        contexts: Mapping[str, Any],
        functions: Mapping[str, Callable[..., Any]],
        max_memory: int = MAX_MEMORY,
    ) -> None:
        self.source = source
        self.contexts = contexts
        self.functions = functions
        self.memory = _Memory(max_memory)
        self.max_memory = max_memory

    def evaluate(self, node: Node | None) -> Any:
        if node is None:
            return None
        try:
            return self.eval(node, 0)
        except builtin.FunctionError as exc:
            # Chain the root cause (a custom function's own exception) when there is one.
            cause = exc.__cause__ or exc
            raise ExpressionError("evaluation", str(exc), expression=self.source) from cause
        except RecursionError as exc:  # deeply nested context data in toJSON and the like
            raise ExpressionError(
                "evaluation", "Exceeded max depth while evaluating", expression=self.source
            ) from exc

    def eval(self, node: Node, level: int) -> Any:
        result = self.core(node, level)
        self.memory.add(level, _size(result), is_primitive(result))
        return result

    def core(self, node: Node, level: int) -> Any:
        # Ordered by how often each node kind occurs in real expressions.
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, ContextAccess):
            return lookup(self.contexts, node.name)[1]
        if isinstance(node, IndexAccess):
            return self.index(node, level)
        if isinstance(node, Binary):
            return _compare(
                node.op, self.eval(node.left, level + 1), self.eval(node.right, level + 1)
            )
        if isinstance(node, Logical):
            return self.logical(node, level)
        if isinstance(node, FunctionCall):
            return self.call(node, level)
        if isinstance(node, Unary):
            return not to_bool(self.eval(node.operand, level + 1))
        if isinstance(node, Grouping):
            return self.eval(node.expr, level + 1)
        raise TypeError(f"not an expression node: {node!r}")  # pragma: no cover

    def logical(self, node: Logical, level: int) -> Any:
        result: Any = None
        for arg in node.args:
            result = self.eval(arg, level + 1)
            if to_bool(result) == (node.op == "||"):
                break
        return result

    def index(self, node: IndexAccess, level: int) -> Any:
        star = isinstance(node.index, Star)
        key = None
        if not star:
            try:
                key = self.eval(node.index, level + 1)
            except builtin.FunctionError as exc:
                raise builtin.FunctionError(
                    f"could not evaluate index for index access: {exc}"
                ) from exc
        obj = self.eval(node.obj, level + 1)
        if isinstance(obj, FilteredArray):
            return _filtered_access(obj, star, key)
        if is_array(obj):
            if star:
                return FilteredArray(obj)
            i = _int_index(key)
            return obj[i] if i is not None and i < len(obj) else None
        if is_object(obj):
            if star:
                return FilteredArray(obj.values())
            return lookup(obj, coerce_string(key))[1] if is_primitive(key) else None
        return FilteredArray() if star else None

    def call(self, node: FunctionCall, level: int) -> Any:
        name = node.name.lower()
        args = [self.eval(a, level + 1) for a in node.args]
        custom = self.functions.get(name)
        if custom is not None:
            try:
                return custom(*args)
            except (ExpressionError, builtin.FunctionError):
                raise
            except Exception as exc:
                raise builtin.FunctionError(f"{node.name}: {exc}") from exc
        if name == "format":
            quote = not _reads_secrets(node.args[0])
            return builtin.format_(args, self.max_memory, quote=quote)
        if name == "tojson":
            return builtin.to_json_(args[0], self.max_memory)
        implementation = builtin.BUILTINS.get(name)
        if implementation is None:
            raise builtin.FunctionError(f"Unrecognized function: '{node.name}'")
        return implementation(*args)


def _reads_secrets(node: Node) -> bool:
    """Whether a subtree reads the ``secrets`` context (its values must not reach messages)."""
    return any(isinstance(n, ContextAccess) and n.name.lower() == "secrets" for n in walk(node))


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "===":
        return strict_equals(left, right)
    if op == "!==":
        return not strict_equals(left, right)
    if op == "==":
        return equals(left, right)
    if op == "!=":
        return not equals(left, right)
    if op == ">":
        return greater_than(left, right)
    if op == ">=":
        return equals(left, right) or greater_than(left, right)
    if op == "<":
        return less_than(left, right)
    return equals(left, right) or less_than(left, right)


def _int_index(key: Any) -> int | None:
    """An array index from any value: its number, floored; None when negative or not finite."""
    f = to_number(key)
    if math.isnan(f) or math.isinf(f) or f < 0:
        return None
    return math.floor(f)


def _filtered_access(items: FilteredArray, star: bool, key: Any) -> FilteredArray:
    """Indexing a filter result applies the index to each item and keeps what is found."""
    result = FilteredArray()
    text = coerce_string(key) if not star and is_primitive(key) else None
    i = None if star else _int_index(key)
    for item in items:
        if is_object(item):
            if star:
                result.extend(item.values())
            elif text is not None:
                found, value = lookup(item, text)
                if found:
                    result.append(value)
        elif is_array(item):
            if star:
                result.extend(item)
            elif i is not None and i < len(item):
                result.append(item[i])
    return result
