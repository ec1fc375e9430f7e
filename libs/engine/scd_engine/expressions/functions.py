"""Built-in functions: contains, startsWith, endsWith, format, join, toJSON, fromJSON, case.

Each takes evaluated argument values (``case`` and ``format`` take a getter, so only the
arguments they need are evaluated, as in actions/runner) and raises FunctionError, which the
evaluator reports as an evaluation error without a position.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .coercion import (
    coerce_string,
    equals,
    is_array,
    is_primitive,
    kind_of,
    to_json,
    upper_special,
)

__all__ = ["BUILTINS", "FunctionError", "case_", "format_", "from_json", "to_json_"]


class FunctionError(Exception):
    """A function failed; the message is shown to the user as it is."""


def contains(search: Any, item: Any) -> bool:
    """Substring test on strings (ignoring case) or membership test on arrays (``==``)."""
    if is_primitive(search):
        if is_primitive(item):
            return coerce_string(item).lower() in coerce_string(search).lower()
        return False
    if is_array(search):
        return any(equals(item, v) for v in search)
    return False


def starts_with(text: Any, prefix: Any) -> bool:
    if not (is_primitive(text) and is_primitive(prefix)):
        return False
    return upper_special(coerce_string(text)).startswith(upper_special(coerce_string(prefix)))


def ends_with(text: Any, suffix: Any) -> bool:
    if not (is_primitive(text) and is_primitive(suffix)):
        return False
    return upper_special(coerce_string(text)).endswith(upper_special(coerce_string(suffix)))


def join(value: Any, separator: Any = ",") -> str:
    """Items of an array as strings joined by ``separator`` (default ","); a primitive as text."""
    if is_primitive(value):
        return coerce_string(value)
    if is_array(value):
        sep = coerce_string(separator) if is_primitive(separator) else ","
        return sep.join(coerce_string(v) for v in value)
    return ""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    exact = dict(pairs)  # a repeated key keeps its first place and its last value
    result: dict[str, Any] = {}
    seen: set[str] = set()
    for key, value in exact.items():
        if key.lower() not in seen:  # keys differing only in case: the first one wins
            seen.add(key.lower())
            result[key] = value
    return result


def from_json(value: Any) -> Any:
    """Parse JSON text into expression values (numbers become floats)."""
    text = coerce_string(value)
    if not text.strip():
        raise FunctionError("empty input")
    try:
        return json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=float,  # JSON numbers are doubles; keeps -0
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:
        where = ""
        if isinstance(exc, json.JSONDecodeError):
            where = f" (line {exc.lineno}, column {exc.colno})"
        raise FunctionError(f"Error parsing fromJson{where}") from exc


def to_json_(value: Any, max_memory: int) -> str:
    text = to_json(value)
    if 26 + 2 * len(text) > max_memory:
        raise FunctionError("The maximum allowed memory size was exceeded")
    return text


def case_(arg: Callable[[int], Any], count: int) -> Any:
    """``case(pred1, val1, ..., default)``: the value after the first true predicate."""
    for i in range(0, count - 1, 2):
        predicate = arg(i)
        if not isinstance(predicate, bool):
            raise FunctionError("case predicate must evaluate to a boolean value")
        if predicate:
            return arg(i + 1)
    return arg(count - 1)


def _specifiers(fmt: str, i: int) -> tuple[str, int] | None:
    """Read ``:spec}`` from ``fmt[i]`` (``}}`` escapes a brace); (spec, index of '}')."""
    spec: list[str] = []
    i += 1
    while i < len(fmt):
        if fmt[i] != "}":
            spec.append(fmt[i])
            i += 1
        elif i + 1 < len(fmt) and fmt[i + 1] == "}":
            spec.append("}")
            i += 2
        else:
            return "".join(spec), i
    return None


def _placeholder(fmt: str, lbrace: int) -> tuple[int, str, int] | None:
    """Parse ``{N}`` or ``{N:spec}`` at ``lbrace``: (N, spec, index of '}'), None if invalid."""
    j = lbrace + 1
    while j < len(fmt) and "0" <= fmt[j] <= "9":
        j += 1
    if j == lbrace + 1 or j >= len(fmt) or int(fmt[lbrace + 1 : j]) > 255:
        return None
    index = int(fmt[lbrace + 1 : j])
    if fmt[j] == "}":
        return index, "", j
    if fmt[j] != ":":
        return None
    found = _specifiers(fmt, j)
    return None if found is None else (index, found[0], found[1])


def _segments(fmt: str, count: int, shown: str) -> list[str | tuple[int, str]]:
    """Split a format string into literal text and (argument index, specifiers), validating
    the whole string before any argument is evaluated. Errors quote ``shown``."""
    out: list[str | tuple[int, str]] = []
    i, n = 0, len(fmt)
    while i < n:
        lbrace, rbrace = fmt.find("{", i), fmt.find("}", i)
        if lbrace >= 0 and (rbrace < 0 or rbrace > lbrace):
            if lbrace + 1 < n and fmt[lbrace + 1] == "{":
                out.append(fmt[i : lbrace + 1])
                i = lbrace + 2
                continue
            found = _placeholder(fmt, lbrace) if rbrace > lbrace + 1 else None
            if found is None:
                raise FunctionError(f"The following format string is invalid: {shown}")
            index, spec, end = found
            if index > count - 2:
                raise FunctionError(
                    f"The following format string references more arguments than were "
                    f"supplied: {shown}"
                )
            if lbrace > i:
                out.append(fmt[i:lbrace])
            out.append((index, spec))
            i = end + 1
        elif rbrace >= 0:
            if rbrace + 1 < n and fmt[rbrace + 1] == "}":
                out.append(fmt[i : rbrace + 1])
                i = rbrace + 2
            else:
                raise FunctionError(f"The following format string is invalid: {shown}")
        else:
            out.append(fmt[i:])
            break
    return out


def format_(arg: Callable[[int], Any], count: int, max_memory: int, *, literal: bool = True) -> str:
    """``format('{0} {{x}}', a)``: ``{N}`` takes argument N as text, ``{{``/``}}`` escape.
    Format specifiers (``{0:x}``) are rejected, as GitHub rejects them for these kinds.
    Errors quote the format string only when it is a ``literal`` in the source: a computed
    one may hold a secret."""
    fmt = coerce_string(arg(0))
    shown = fmt if literal else "(computed by the expression)"
    cache: dict[int, Any] = {}
    used = 0
    parts: list[str] = []
    for segment in _segments(fmt, count, shown):
        if isinstance(segment, tuple):
            index, spec = segment
            if index not in cache:
                cache[index] = arg(index + 1)
            if spec:
                raise FunctionError(
                    f"The format specifiers '{spec}' are not valid for objects of type "
                    f"'{kind_of(cache[index])}'"
                )
            text = coerce_string(cache[index])
        else:
            text = segment
        if text:
            used += 26 + 2 * len(text)
            if used > max_memory:
                raise FunctionError("The maximum allowed memory size was exceeded")
            parts.append(text)
    return "".join(parts)


BUILTINS: dict[str, Callable[..., Any]] = {
    "contains": contains,
    "startswith": starts_with,
    "endswith": ends_with,
    "join": join,
    "fromjson": from_json,
}
