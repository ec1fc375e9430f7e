"""Parse ``$SCD_OUTPUT`` and ``$SCD_ENV`` files: GitHub's file-command format.

Contract: :func:`parse_file_command` accepts exactly what the GitHub runner's
``SetOutputFileCommand``/``SetEnvFileCommand`` accept: ``name=value`` lines
(split at the first ``=``) and ``name<<DELIMITER`` blocks ending at a line
equal to ``DELIMITER``; whichever of ``=`` and ``<<`` comes first decides the
form. Empty lines are skipped; ``\\r\\n`` and ``\\n`` both end a line; a block's
value keeps its inner line breaks but not the one before the delimiter. A
later assignment of a name wins. Anything else raises :class:`FileCommandError`.
"""

from __future__ import annotations

import os
from pathlib import Path

from scd_core.errors import ScdError

__all__ = ["FileCommandError", "create_empty", "parse_file_command", "read_file_command"]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class FileCommandError(ScdError):
    """A step wrote a malformed line to ``$SCD_OUTPUT`` or ``$SCD_ENV``."""

    code = "file_command_error"


def create_empty(path: Path) -> None:
    """Create the empty file at ``path`` for a step to append to (private to the user).

    One ``open``: unlike ``Path.touch`` it tries no ``utime`` first; a file
    command file is new for each step.
    """
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | _CLOEXEC, 0o600))


def read_file_command(path: Path, what: str = "SCD_OUTPUT") -> dict[str, str]:
    """Parse the file at ``path``; a missing or empty file means no values."""
    try:
        if os.stat(path).st_size == 0:
            return {}  # the common case: one stat instead of an open and two reads
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return {}
    return parse_file_command(text, what) if text else {}


def parse_file_command(text: str, what: str = "SCD_OUTPUT") -> dict[str, str]:
    """Parse ``text`` in GitHub's file-command format into an ordered mapping."""
    # Only "\n" ends a line (the runner's ReadLine), not every splitlines() break.
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    values: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = _strip_eol(lines[i])
        i += 1
        if not line:
            continue
        eq, heredoc = line.find("="), line.find("<<")
        if eq >= 0 and (heredoc < 0 or eq < heredoc):
            name, value = line[:eq], line[eq + 1 :]
            if not name:
                raise FileCommandError(f"{what}: invalid line {line!r}: the name is empty")
            values[name] = value
        elif heredoc >= 0:
            name, delimiter = line[:heredoc], line[heredoc + 2 :]
            if not name or not delimiter:
                raise FileCommandError(
                    f"{what}: invalid line {line!r}: the name and the delimiter must not be empty"
                )
            body: list[str] = []
            while True:
                if i >= len(lines):
                    raise FileCommandError(
                        f"{what}: matching delimiter {delimiter!r} not found for {name!r}"
                    )
                raw = lines[i]
                i += 1
                if _strip_eol(raw) == delimiter:
                    break
                if raw == _strip_eol(raw):
                    raise FileCommandError(f"{what}: the value of {name!r} misses a final newline")
                body.append(raw)
            values[name] = _strip_eol("".join(body)) if body else ""
        else:
            raise FileCommandError(f"{what}: invalid line {line!r}: expected name=value")
    return values


def _strip_eol(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith("\n"):
        return line[:-1]
    return line
