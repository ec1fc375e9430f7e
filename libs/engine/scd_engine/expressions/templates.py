"""``${{ }}`` inside strings, and ``if:`` conditions.

Expressions are found as GitHub's template reader finds them: from ``${{`` to the first
``}}`` outside a string literal (single-quoted, or double-quoted as serverless-cd writes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .coercion import to_text
from .errors import ExpressionError

__all__ = ["find_expressions", "format_expression", "strip_markers"]

Evaluate = Callable[[str], Any]


def find_expressions(template: str) -> list[tuple[int, int, str]]:
    """(start, end, source) of each ``${{ ... }}``: ``template[start:end]`` is the whole
    marker, ``source`` the expression inside it, stripped. An unclosed ``${{`` or an empty
    one is a parsing error."""
    found: list[tuple[int, int, str]] = []
    i = 0
    while True:
        start = template.find("${{", i)
        if start < 0:
            return found
        end = _closing(template, start + 3)
        if end < 0:
            raise ExpressionError(
                "parsing",
                "The expression is not closed. An unescaped ${{ sequence was found, "
                "but the closing }} sequence was not found",
                expression=template[start:],
                position=start + 1,
            )
        source = template[start + 3 : end - 2].strip()
        if not source:
            raise ExpressionError(
                "parsing", "An expression was expected", expression=template, position=start + 1
            )
        found.append((start, end, source))
        i = end


def _closing(template: str, j: int) -> int:
    """The end of the ``}}`` closing an expression whose text starts at ``j``; -1 if none."""
    quote = ""  # the quote of the string literal the scan is in, if any
    first = j
    while j < len(template):
        c = template[j]
        if quote == '"' and c == "\\":
            j += 2  # a backslash escape inside a double-quoted string
            continue
        if c == quote:
            quote = ""  # '' inside a single-quoted literal toggles twice: still fine
        elif not quote and c in "'\"":
            quote = c
        elif not quote and c == "}" and j - 1 >= first and template[j - 1] == "}":
            return j + 1
        j += 1
    return -1


def render_with(template: str, evaluate: Evaluate) -> str:
    """Replace every ``${{ expr }}`` with its value as text."""
    parts: list[str] = []
    last = 0
    for start, end, source in find_expressions(template):
        parts.append(template[last:start])
        parts.append(to_text(evaluate(source)))
        last = end
    parts.append(template[last:])
    return "".join(parts)


def render_value_with(template: str, evaluate: Evaluate) -> Any:
    """The raw value when ``template`` is exactly one ``${{ expr }}``; else its text."""
    found = find_expressions(template)
    if len(found) == 1 and found[0][0] == 0 and found[0][1] == len(template):
        return evaluate(found[0][2])
    return render_with(template, evaluate)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def format_expression(template: str) -> str:
    """A string with ``${{ }}`` parts as one expression: ``format('a{0}b', expr)``.

    Literal braces are escaped, so the result evaluates to what rendering gives (as text).
    """
    found = find_expressions(template)
    pieces: list[str] = []
    args: list[str] = []
    last = 0
    for n, (start, end, source) in enumerate(found):
        pieces.append(template[last:start].replace("{", "{{").replace("}", "}}") + f"{{{n}}}")
        args.append(source)
        last = end
    pieces.append(template[last:].replace("{", "{{").replace("}", "}}"))
    return "format(" + ", ".join([_quote("".join(pieces)), *(f"({a})" for a in args)]) + ")"


def strip_markers(value: str) -> str:
    """An ``if:`` value as written → an expression: the inside of a lone ``${{ }}``, the text
    itself when it has no markers, a ``format(...)`` when markers sit inside other text."""
    text = value.strip()
    if "${{" not in text:
        return text
    found = find_expressions(text)
    if len(found) == 1 and found[0][0] == 0 and found[0][1] == len(text):
        return found[0][2]
    return format_expression(text)
