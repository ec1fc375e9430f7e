"""Text from the server made safe for a terminal: log lines, branch names and commit
messages are untrusted, and a terminal obeys control sequences in them (an OSC 52
clipboard write, a window title, cursor moves that hide what was printed).

Contract: :func:`terminal_safe` keeps printable text, newlines, tabs and SGR colour
sequences (``ESC [ ... m``, which logs use and GitHub's log viewer shows), and shows
every other control character escaped as ``\\xNN`` (``\\x1b]52;...`` prints as
text and does nothing). :func:`terminal_safe_data` applies it to every string in a
JSON-like value.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["terminal_safe", "terminal_safe_data"]

# an SGR sequence, or one control character (C0 but newline and tab, DEL, C1)
_UNSAFE = re.compile(r"(\x1b\[[0-9;:]*m)|([\x00-\x08\x0b-\x1f\x7f-\x9f])")


def _escape(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return match.group(1)
    return f"\\x{ord(match.group(2)):02x}"


def terminal_safe(text: str) -> str:
    """``text`` with control sequences other than colours shown escaped."""
    return _UNSAFE.sub(_escape, text)


def terminal_safe_data(value: Any) -> Any:
    """``value`` with :func:`terminal_safe` applied to every string in it."""
    if isinstance(value, str):
        return terminal_safe(value)
    if isinstance(value, dict):
        return {key: terminal_safe_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [terminal_safe_data(item) for item in value]
    return value
