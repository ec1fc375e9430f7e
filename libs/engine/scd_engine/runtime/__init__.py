"""The engine runtime: run the steps of one plan task on this machine.

Embeddable: the worker function and ``scd run`` both build a :class:`Runner`
from :class:`RunnerOptions` (a workspace, a log sink, a run id, the event,
secrets, inputs, observers and a cancel token), then call
``Runner.run(plan.task(...))`` and get a :class:`RunResult`.
Names are loaded on first use, so importing a submodule (``process``,
``commands``) does not import the whole engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scd_engine.runtime.commands import FileCommandError, parse_file_command
    from scd_engine.runtime.observers import Observers
    from scd_engine.runtime.options import Observer, RunnerOptions
    from scd_engine.runtime.runner import Runner, RunResult

__all__ = [
    "FileCommandError",
    "Observer",
    "Observers",
    "RunResult",
    "Runner",
    "RunnerOptions",
    "parse_file_command",
]

_HOMES = {
    "FileCommandError": "scd_engine.runtime.commands",
    "parse_file_command": "scd_engine.runtime.commands",
    "Observer": "scd_engine.runtime.options",
    "Observers": "scd_engine.runtime.observers",
    "RunnerOptions": "scd_engine.runtime.options",
    "RunResult": "scd_engine.runtime.runner",
    "Runner": "scd_engine.runtime.runner",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
