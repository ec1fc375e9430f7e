"""Built-in functions: contains, startsWith, endsWith, format, join, toJSON, fromJSON, case.

Each takes evaluated argument values (all arguments are evaluated first, as GitHub's
languageservices does) and raises FunctionError, which the evaluator reports as an evaluation
error without a position.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from .coercion import (
    coerce_string,
    equals,
    is_array,
    is_primitive,
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
        raise FunctionError(f"Error parsing JSON when evaluating fromJson{where}") from exc


def to_json_(value: Any, max_memory: int) -> str:
    text = to_json(value)
    if 26 + 2 * len(text) > max_memory:
        raise FunctionError("The maximum allowed memory size was exceeded")
    return text


def case_(*args: Any) -> Any:
    """``case(pred1, val1, ..., default)``: the value after the first true predicate."""
    for i in range(0, len(args) - 1, 2):
        if not isinstance(args[i], bool):
            raise FunctionError("case predicate must evaluate to a boolean value")
        if args[i]:
            return args[i + 1]
    return args[-1]


def _segments(fmt: str, count: int, shown: str) -> list[str | int]:
    """Split a format string into literal text and argument indexes. As GitHub's
    languageservices reads it: ``{`` + digits starts a placeholder that ends at the next
    ``}``; ``{{`` and ``}}`` are escapes; anything else with a brace is invalid."""
    out: list[str | int] = []
    i, n = 0, len(fmt)
    while i < n:
        lbrace, rbrace = fmt.find("{", i), fmt.find("}", i)
        if lbrace >= 0 and (rbrace < 0 or rbrace > lbrace):
            if lbrace + 1 < n and fmt[lbrace + 1] == "{":
                out.append(fmt[i : lbrace + 1])
                i = lbrace + 2
                continue
            digits = lbrace + 1
            while digits < n and "0" <= fmt[digits] <= "9":
                digits += 1
            if rbrace <= lbrace + 1 or digits == lbrace + 1:
                raise FunctionError(f"The following format string is invalid: {shown}")
            index = int(fmt[lbrace + 1 : digits])
            if index > count - 2:
                raise FunctionError(
                    "The following format string references more arguments than were "
                    f"supplied: {shown}"
                )
            if lbrace > i:
                out.append(fmt[i:lbrace])
            out.append(index)
            i = rbrace + 1
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


def format_(args: Sequence[Any], max_memory: int, *, quote: bool = True) -> str:
    """``format('{0} {{x}}', a)``: ``{N}`` takes argument N as text, ``{{``/``}}`` escape.
    Errors quote the format string unless ``quote`` is false (it may hold a secret). The
    result may not outgrow the memory limit."""
    fmt = coerce_string(args[0])
    shown = fmt if quote else "(hidden: it is computed from secrets)"
    used = 0
    parts: list[str] = []
    for segment in _segments(fmt, len(args), shown):
        text = coerce_string(args[segment + 1]) if isinstance(segment, int) else segment
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
    "case": case_,
}
