"""The micromatch glob dialect of serverless-cd's trigger spec (its branch and tag rules).

serverless-cd matches with ``micromatch([value], patterns)``. This module gives that meaning
for the features such rules use:

- ``*`` is any run of characters inside one segment; ``?`` is one character other than ``/``;
  at the start of a segment neither matches a leading ``.`` (micromatch's ``dot: false``);
- ``**`` as a whole segment is any number of segments (``a/**`` also matches ``a``);
  elsewhere it acts as ``*``;
- ``[...]`` classes, with ``!`` or ``^`` negation and ranges; ``{a,b}`` alternatives and
  ``{1..3}`` numeric ranges (expanded first, as micromatch's braces do); ``\\x`` is literal;
- a list matches a value when the last pattern deciding it is positive; a negative ``!p``
  excludes what ``p`` matches, and a list of negatives only matches everything else
  (micromatch's ``keep``/``omit`` rule).

Not supported (treated literally): extglobs such as ``+(a|b)`` and POSIX classes such as
``[[:alpha:]]``; serverless-cd's UI never produces them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["glob_list_matches", "glob_regex"]

_BRACE = re.compile(r"\{([^{}]*)\}")
_NUM_RANGE = re.compile(r"(-?\d+)\.\.(-?\d+)")
_SEGMENT = r"(?!\.)[^/]+"
_MAX_EXPANSIONS = 256


def _expand_braces(pattern: str) -> list[str]:
    """Expand the innermost ``{...}`` groups until none is left (bounded)."""
    done: list[str] = []
    todo = [pattern]
    while todo:
        current = todo.pop()
        match = _BRACE.search(current)
        body = match.group(1) if match else ""
        numeric = _NUM_RANGE.fullmatch(body)
        if match is None or ("," not in body and numeric is None):
            done.append(current)
        else:
            if numeric is not None:
                low, high = int(numeric.group(1)), int(numeric.group(2))
                step = 1 if high >= low else -1
                options = [str(n) for n in range(low, high + step, step)][:_MAX_EXPANSIONS]
            else:
                options = body.split(",")
            head, tail = current[: match.start()], current[match.end() :]
            todo.extend(f"{head}{option}{tail}" for option in options)
        if len(done) + len(todo) > _MAX_EXPANSIONS:
            raise ValueError(f"glob '{pattern}' expands to too many alternatives")
    return done


def _segment_regex(segment: str) -> str:
    out: list[str] = []
    pos = 0
    while pos < len(segment):
        char = segment[pos]
        at_start = pos == 0
        if char == "*":
            while pos + 1 < len(segment) and segment[pos + 1] == "*":
                pos += 1
            out.append(("(?!\\.)" if at_start else "") + "[^/]*")
        elif char == "?":
            out.append(("(?!\\.)" if at_start else "") + "[^/]")
        elif char == "\\" and pos + 1 < len(segment):
            pos += 1
            out.append(re.escape(segment[pos]))
        elif char == "[" and "]" in segment[pos + 2 :]:
            end = segment.index("]", pos + 2)
            inner = segment[pos + 1 : end]
            negate = inner[:1] in ("!", "^")
            members = inner[1:] if negate else inner
            escaped = members.replace("\\", "\\\\").replace("[", "\\[").replace("^", "\\^")
            out.append(f"[{'^/' if negate else ''}{escaped}]")
            pos = end
        else:
            out.append(re.escape(char))
        pos += 1
    return "".join(out)


def _single_regex(pattern: str) -> str:
    segments = pattern.split("/")
    out = ""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            if len(segments) == 1:
                out += f"(?:{_SEGMENT}(?:/{_SEGMENT})*)?"
            elif index == 0:
                out += f"(?:{_SEGMENT}/)*"
            else:
                out += f"(?:/{_SEGMENT})*" + ("" if last else "/")
        else:
            sep = "" if index == 0 or segments[index - 1] == "**" else "/"
            out += sep + _segment_regex(segment)
    return out


@lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """The regex of one glob (without a leading ``!``), for ``fullmatch``."""
    alternatives = [_single_regex(p) for p in _expand_braces(pattern)]
    try:
        return re.compile("|".join(f"(?:{a})" for a in alternatives))
    except re.error as exc:
        raise ValueError(f"invalid glob '{pattern}': {exc}") from exc


def glob_list_matches(patterns: Sequence[str], value: str) -> bool:
    """micromatch's answer for ``micromatch([value], patterns)`` being non-empty."""
    kept = all(p.startswith("!") for p in patterns) and bool(patterns)
    for pattern in patterns:
        negative = pattern.startswith("!")
        body = pattern[1:] if negative else pattern
        matched = glob_regex(body).fullmatch(value) is not None
        if negative and not matched:
            continue
        if negative:
            kept = False
        elif matched:
            kept = True
    return kept
