"""The names a task's work is kept under: its lease and its steps' log keys.

Contract: both functions are pure and stable across releases (stored data is
found by them). ``lease_key(run, task)`` is ``task:<run>:<task>``; runs recorded
before tasks existed were guarded by ``legacy_lease_key(run)`` (``run:<run>``).
``log_key(task, step)`` is the key a step's log has in a ``LogSink``: the step
key itself for the task ``default`` (so logs written before tasks existed read
as they did), and ``<task, encoded>.<step>`` for any other task. Step keys never
contain a ``.`` and the encoding is injective, so no two (task, step) pairs share
a key; every key passes ``validate_id`` when the task id is at most ~60 characters.
"""

from __future__ import annotations

import re

from scd_core.models import DEFAULT_TASK

__all__ = ["in_task", "lease_key", "legacy_lease_key", "log_key"]

_PLAIN = re.compile(r"[A-Za-z0-9_-]")


def lease_key(run_id: str, task: str = DEFAULT_TASK) -> str:
    """The lease that guards running task instance ``task`` of ``run_id``."""
    return f"task:{run_id}:{task}"


def legacy_lease_key(run_id: str) -> str:
    """The lease of a run recorded before tasks existed (it has no ``tasks``)."""
    return f"run:{run_id}"


def log_key(task: str, step: str) -> str:
    """The log key of step key ``step`` of task instance ``task``."""
    if task == DEFAULT_TASK:
        return step
    return f"{_encode(task)}.{step}"


def _encode(task: str) -> str:
    # Letters, digits, "_" and "-" stay; every other UTF-8 byte is ".xx" (fixed
    # width, so decoding is unambiguous and two escapes never make "..").
    out: list[str] = []
    for char in task:
        if _PLAIN.fullmatch(char):
            out.append(char)
        else:
            out.extend(f".{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
    return "".join(out)


def in_task(key: str, task: str) -> bool:
    """Whether log key ``key`` (made by ``log_key``) belongs to task instance ``task``."""
    if task == DEFAULT_TASK:
        return "." not in key
    prefix = f"{_encode(task)}."
    return key.startswith(prefix) and "." not in key[len(prefix) :]
