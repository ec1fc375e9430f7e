"""GitHub's filter-pattern dialect for branches, tags and paths (act's ``workflowpattern``).

Contract: a pattern is matched against the **whole** input, case-sensitively, with ``/`` as
the only separator. ``*`` stays inside one segment, ``**`` crosses segments, ``**/`` is zero
or more leading directories, ``?`` and ``+`` quantify the preceding character or class (they
are literal as the first character), ``[...]`` is a class of ``A``-``z`` and ``0``-``9``
members and upward ranges, ``\\x`` is a literal ``x``, and a leading ``!`` negates.

``skip_for_paths`` is the decision of a ``paths``/``branches``/``tags`` filter (last matching
pattern wins); ``skip_for_paths_ignore`` that of a ``paths-ignore``/``branches-ignore``/
``tags-ignore`` filter (act's ``Filter``: order does not matter). Both return ``True`` when the
event must be skipped. Compiled patterns are cached, so repeated filters cost one lookup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "CompiledPattern",
    "compile_pattern",
    "compile_patterns",
    "first_match",
    "skip_for_paths",
    "skip_for_paths_ignore",
]


class CompiledPattern(NamedTuple):
    """One filter pattern: its text (without ``!``), whether it negates, and its regex."""

    pattern: str
    negative: bool
    regex: re.Pattern[str]


def _class_member_ok(char: str) -> bool:
    return "A" <= char <= "z" or "0" <= char <= "9"


def _range_ok(low: str, high: str) -> bool:
    same_kind = (_in("A", "z", low) and _in("A", "z", high)) or (
        _in("0", "9", low) and _in("0", "9", high)
    )
    return same_kind and low <= high


def _in(low: str, high: str, char: str) -> bool:
    return low <= char <= high


def _translate_class(pattern: str, pos: int, out: list[str], errors: list[str]) -> int:
    """Translate ``[...]`` starting just after ``[``; return the position after ``]``."""
    out.append("[")
    if pos < len(pattern) and pattern[pos] == "]":
        errors.append(f"position {pos}: unexpected empty brackets '[]'")
        return pos + 1
    start = pos
    while pos < len(pattern) and pattern[pos] != "]":
        char = pattern[pos]
        if char == "-":
            if pos <= start or pos + 1 >= len(pattern):
                errors.append(f"position {pos}: invalid range")
                pos += 1
                continue
            if not _range_ok(pattern[pos - 1], pattern[pos + 1]):
                errors.append(f"position {pos}: ranges can only include a-z, A-Z, A-z and 0-9")
                pos += 1
                continue
            out.append(pattern[pos : pos + 2])
            pos += 2
        elif _class_member_ok(char):
            out.append(re.escape(char))
            pos += 1
        else:
            errors.append(f"position {pos}: brackets can only hold a-z, A-Z and 0-9")
            pos += 1
    if pos >= len(pattern):
        errors.append(f"position {pos}: missing closing bracket ']' after '['")
    out.append("]")
    return pos + 1


def _to_regex(pattern: str) -> str:
    """Translate a pattern body (no leading ``!``) into an anchored regex source."""
    out: list[str] = []
    errors: list[str] = []
    pos = 0
    # What the regex so far ends with: Go's RE2 takes "x*?" as lazy but rejects "x*+" and
    # "x*??", while Python 3.11 reads "x*+" as possessive; reject those the way Go does.
    tail = "atom"
    while pos < len(pattern):
        char = pattern[pos]
        if char in "+?" and pos > 0:
            if tail == "lazy" or (tail == "quantifier" and char == "+"):
                errors.append(f"position {pos}: invalid nested repetition '{char}'")
            out.append(char)
            tail = "lazy" if tail == "quantifier" else "quantifier"
            pos += 1
            continue
        tail = "quantifier" if char == "*" else "atom"
        if char == "*":
            if pattern.startswith("**/", pos):
                out.append("(?:.+/)?")
                pos += 3
            elif pattern.startswith("**", pos):
                out.append(".*")
                pos += 2
            else:
                out.append("[^/]*")
                pos += 1
        elif char in "+?":
            out.append(re.escape(char))  # first character: a literal
            pos += 1
        elif char == "[":
            pos = _translate_class(pattern, pos + 1, out, errors)
        elif char == "\\":
            if pos + 1 >= len(pattern):
                errors.append(f"position {pos}: missing symbol after '\\'")
                pos += 1
            else:
                out.append(re.escape(pattern[pos + 1]))
                pos += 2
        else:
            out.append(re.escape(char))
            pos += 1
    if errors:
        raise ValueError(f"invalid pattern '{pattern}': {'; '.join(errors)}")
    return "".join(out)


@lru_cache(maxsize=4096)
def _compile(raw: str) -> CompiledPattern:
    negative = raw.startswith("!")
    body = raw[1:] if negative else raw
    source = _to_regex(body)
    try:
        regex = re.compile(source)
    except re.error as exc:
        # e.g. a quantifier after a quantifier ("a+*"): Go rejects these too
        raise ValueError(f"invalid pattern '{body}': {exc}") from exc
    return CompiledPattern(body, negative, regex)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regex (for ``fullmatch``) of ``pattern``; a leading ``!`` is not part of it.

    Raises ``ValueError`` naming the pattern and each problem's position when it is invalid.
    """
    return _compile(pattern).regex


def compile_patterns(patterns: Sequence[str]) -> tuple[CompiledPattern, ...]:
    """Compile a filter list in order; raises ``ValueError`` on the first invalid pattern."""
    return _compile_all(tuple(patterns))


@lru_cache(maxsize=1024)
def _compile_all(patterns: tuple[str, ...]) -> tuple[CompiledPattern, ...]:
    # an app's filter lists are few and fixed: each webhook reuses their compiled tuple
    return tuple(_compile(p) for p in patterns)


def _matches(item: CompiledPattern, value: str) -> bool:
    return item.regex.fullmatch(value) is not None


def first_match(patterns: Sequence[str], value: str) -> bool:
    """Whether ``value`` ends up included by the list (last matching pattern wins)."""
    included = False
    for item in compile_patterns(patterns):
        if _matches(item, value):
            included = not item.negative
    return included


def skip_for_paths(patterns: Sequence[str], inputs: Sequence[str]) -> bool:
    """``True`` when no input is included by a ``paths``-style filter (act's ``Skip``)."""
    if not patterns:
        return False
    return not any(first_match(patterns, value) for value in inputs)


def skip_for_paths_ignore(patterns: Sequence[str], inputs: Sequence[str]) -> bool:
    """``True`` when every input is ignored by a ``paths-ignore``-style filter (act's ``Filter``).

    An input is ignored when some positive pattern matches it or some negative one does not.
    """
    if not patterns:
        return False
    compiled = compile_patterns(patterns)
    return all(any(_matches(p, value) != p.negative for p in compiled) for value in inputs)
