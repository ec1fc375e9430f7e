"""``hashFiles()``: one SHA-256 over the files a set of glob patterns selects.

As GitHub's runner computes it: the SHA-256 of the concatenated SHA-256 digests of every
matched file, '' when nothing matches. Patterns are relative to the workspace, ``*`` and
``?`` stay within a path segment, ``**`` spans segments, ``[...]`` is a class, dot files
match, a pattern naming a directory takes every file under it, and ``!pattern`` excludes
(later patterns override earlier ones). Only regular files whose real path lies inside the
workspace count; files are hashed in sorted path order.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

__all__ = ["hash_files"]

_GLOB_CHARS = frozenset("*?[")
_FOLLOW = "--follow-symbolic-links"


@functools.lru_cache(maxsize=256)
def _segment_regex(segment: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and segment.find("]", i + 2) > 0:
            end = segment.find("]", i + 2)
            body = segment[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _match(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    if not pattern:
        return not parts
    head = pattern[0]
    if head == "**":
        return any(_match(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    if not parts or not _segment_regex(head).fullmatch(parts[0]):
        return False
    return _match(pattern[1:], parts[1:])


def _matches(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    """The path or one of its ancestor directories matches (a directory takes its files)."""
    return any(_match(pattern, parts[:n]) for n in range(1, len(parts) + 1))


def _split(pattern: str, workspace: Path) -> list[str] | None:
    """The pattern as segments relative to the workspace; None when it points outside."""
    text = pattern.strip().replace("\\", "/") if os.sep == "\\" else pattern.strip()
    if os.path.isabs(text):
        try:
            text = os.path.relpath(text, workspace)
        except ValueError:
            return None
        if text == ".." or text.startswith("../"):
            return None
    segments = [s for s in text.split("/") if s not in ("", ".")]
    if ".." in segments:
        return None
    return segments


def _root(segments: Sequence[str]) -> list[str]:
    """The literal leading directories of a pattern: where a search can start."""
    if not any(_GLOB_CHARS & set(segment) for segment in segments):
        return list(segments)
    literal: list[str] = []
    for segment in segments[:-1]:
        if _GLOB_CHARS & set(segment):
            break
        literal.append(segment)
    return literal


def _candidates(workspace: Path, roots: list[list[str]], follow: bool) -> set[str]:
    found: set[str] = set()
    for root in roots:
        start = workspace.joinpath(*root)
        if start.is_file():
            found.add("/".join(root))
            continue
        if not start.is_dir():
            continue
        for dirpath, _dirs, files in os.walk(start, followlinks=follow):
            rel = os.path.relpath(dirpath, workspace).replace(os.sep, "/")
            for name in files:
                found.add(name if rel == "." else f"{rel}/{name}")
    return found


def hash_files(workspace: Path, patterns: Sequence[str]) -> str:
    """Hex SHA-256 over the matched files' SHA-256 digests, in sorted order; '' if none.

    A first pattern ``--follow-symbolic-links`` makes the search enter linked directories.
    """
    follow = bool(patterns) and patterns[0] == _FOLLOW
    rules: list[tuple[bool, list[str]]] = []
    for raw in patterns[1:] if follow else patterns:
        negate = raw.startswith("!")
        segments = _split(raw[1:] if negate else raw, workspace)
        if segments:
            rules.append((negate, segments))
    includes = [segments for negate, segments in rules if not negate]
    if not includes:
        return ""
    base = workspace.resolve()
    roots = [_root(s) for s in includes]
    selected: list[str] = []
    for rel in sorted(_candidates(base, roots, follow)):
        parts = rel.split("/")
        keep = False
        for negate, segments in rules:
            if keep == negate and _matches(segments, parts):
                keep = not negate
        if keep and _inside(base, base / rel):
            selected.append(rel)
    if not selected:
        return ""
    outer = hashlib.sha256()
    for rel in selected:
        inner = hashlib.sha256()
        with open(base / rel, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                inner.update(chunk)
        outer.update(inner.digest())
    return outer.hexdigest()


def _inside(base: Path, path: Path) -> bool:
    real = path.resolve()
    return real.is_file() and (real == base or base in real.parents)
