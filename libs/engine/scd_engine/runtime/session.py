"""What the steps of one task run share and change as they go.

Contract: a :class:`Session` is made by the Runner for one run and handed to
the :class:`~scd_engine.runtime.stepping.StepDriver`; both use it from the
runner's thread only, except ``cancel`` and ``kill``, Events any thread may
set. It holds the expression contexts (``env`` and ``steps`` fill in as steps
end), the status functions bound to this run, the failed flag, the masker and
the observers, and renders templates against the current contexts. It imports
neither the runner nor the driver: both depend on it, not on each other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from scd_core.logsink import LogSink
from scd_core.masking import Masker
from scd_core.models import Status, StepState

from scd_engine.expressions import evaluate, hash_files_function, render, render_value
from scd_engine.runtime.observers import Observers

__all__ = ["Session"]


class Session:
    """The shared, changing state of one task run; see the module docstring."""

    def __init__(
        self,
        *,
        run_id: str,
        task_id: str,
        workspace: Path,
        sink: LogSink,
        contexts: dict[str, Any],
        extra_env: Mapping[str, str],
        cancel: threading.Event,
        kill: threading.Event,
        masker: Masker,
        observers: Observers,
    ) -> None:
        self.run_id = run_id
        self.task_id = task_id
        self.sink = sink
        self.contexts = contexts
        self.extra_env = dict(extra_env)
        self.cancel = cancel
        self.kill = kill
        self.masker = masker
        self.observers = observers
        self.failed = False
        self.functions: dict[str, Callable[..., Any]] = {
            "success": lambda: not self.failed and not self.cancel.is_set(),
            "failure": lambda: self.failed,
            "always": lambda: True,
            "cancelled": lambda: self.cancel.is_set(),
            "hashFiles": hash_files_function(workspace),
        }

    @property
    def killed(self) -> bool:
        """True once the run was killed: nothing more runs, not even always()."""
        return self.kill.is_set()

    def status(self) -> Status:
        """The run's status so far."""
        if self.cancel.is_set():
            return "cancelled"
        return "failure" if self.failed else "success"

    def emit(self, state: StepState) -> None:
        """Tell the observers of a change of ``state``, its text masked: a step's name,
        message and outputs are recorded and served, so no secret may reach them (a
        name may be rendered from ``secrets``; a value added with ``::add-mask::``
        after an output was set is masked in every later record of it)."""
        masker = self.masker
        if masker.active:
            state.name = None if state.name is None else masker.mask(state.name)
            state.message = None if state.message is None else masker.mask(state.message)
            state.outputs = {key: masker.mask(value) for key, value in state.outputs.items()}
        self.observers.emit(state)

    def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` (no ``${{ }}``) against the current contexts."""
        return evaluate(expression, self.contexts, functions=self.functions)

    def render(self, text: str) -> str:
        """``text`` with each ``${{ }}`` replaced by its value as text."""
        if "${{" not in text:
            return text
        return render(text, self.contexts, functions=self.functions)

    def value(self, text: str) -> Any:
        """The raw value of a lone ``${{ }}``, else ``text`` rendered."""
        return render_value(text, self.contexts, functions=self.functions)

    def render_deep(self, value: Any) -> Any:
        """``value`` with every string inside it rendered (lists and mappings walked)."""
        if isinstance(value, str):
            return value if "${{" not in value else self.value(value)
        if isinstance(value, list):
            return [self.render_deep(v) for v in value]
        if isinstance(value, dict):
            return {k: self.render_deep(v) for k, v in value.items()}
        return value
