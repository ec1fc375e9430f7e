"""What a plugin receives besides its inputs: :class:`PluginContext`.

Contract: a plugin is a callable ``(inputs: dict[str, Any], ctx: PluginContext)
-> Mapping[str, Any] | None``. It runs in the runner's process (fast: no
interpreter start, no import per step), in a thread of its own, so it must not
change process-wide state (``os.environ``, the current directory): it gets
``ctx.env`` and ``ctx.cwd`` instead. Everything it logs through ``ctx.log`` is
masked. A long plugin should check ``ctx.cancelled`` and return early.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

__all__ = ["AtEnd", "Plugin", "PluginContext"]


class Plugin(Protocol):
    """A step plugin: resolved inputs and a context in, outputs (or None) out."""

    def __call__(
        self, inputs: dict[str, Any], ctx: PluginContext, /
    ) -> Mapping[str, Any] | None: ...


AtEnd = Callable[["PluginContext", str], None]


class _Masker(Protocol):
    def add(self, value: str) -> None: ...

    def mask(self, text: str) -> str: ...


@dataclass
class PluginContext:
    """The run as a plugin sees it.

    ``env`` is the step's environment (a copy: changing it changes nothing
    else); ``export_env`` passes a variable on to later steps. ``at_end``
    registers ``fn(ctx, run_status)`` to run once after the last step, in
    reverse order of registration, as a synthetic step ``post-<step>``: the
    cache plugin saves there, when ``run_status == "success"``.
    """

    run_id: str
    step: str
    workspace: Path
    cwd: Path
    env: dict[str, str]
    secrets: Mapping[str, str]
    masker: _Masker
    cancelled: threading.Event
    contexts: Mapping[str, Any]
    cache_dir: Path
    env_file: Path
    logger: Callable[[str], None]
    at_end_hooks: list[tuple[str, AtEnd]] = field(default_factory=list)

    def log(self, text: str) -> None:
        """Write ``text`` (one or more lines) to the step log, masked."""
        for line in text.splitlines() or [""]:
            self.logger(line)

    def add_mask(self, value: str) -> None:
        """Mask ``value`` in every later log line of the run."""
        self.masker.add(value)

    def export_env(self, name: str, value: str) -> None:
        """Set ``name`` for the later steps, as ``$SCD_ENV`` does."""
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        with self.env_file.open("a", encoding="utf-8") as f:
            f.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def at_end(self, fn: AtEnd) -> None:
        """Run ``fn(ctx, run_status)`` after the run's last step."""
        self.at_end_hooks.append((self.step, fn))
