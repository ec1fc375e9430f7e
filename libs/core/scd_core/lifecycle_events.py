"""What the run lifecycle tells its listeners, and how it calls them.

Contract: a :class:`Change` names one transition (``run.queued``,
``run.started``, ``task.started``, ``task.finished``, ``run.finished``) and
carries the run record as the store holds it right after the write (``task``:
the task's state within that record, for the ``task.*`` changes).

:class:`Listeners` calls each listener in registration order, synchronously in
the thread that made the change, only after the store write succeeded. A
listener that raises is logged with its traceback and skipped; the change, the
other listeners and the caller go on. Registering is thread-safe; a listener
added while changes are being delivered hears the later ones.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from scd_core.models import Run, TaskState

__all__ = ["Change", "ChangeName", "Listener", "Listeners"]

ChangeName = Literal["run.queued", "run.started", "task.started", "task.finished", "run.finished"]
_log = logging.getLogger("scd.lifecycle")


@dataclass(frozen=True)
class Change:
    """One transition of a run or one of its tasks, with the record after it."""

    name: ChangeName
    run: Run
    task: TaskState | None = None

    @property
    def key(self) -> str:
        """An idempotency key: the same transition delivered twice has the same key."""
        task = f":{self.task.id}:{self.task.attempt}" if self.task is not None else ""
        return f"{self.name}:{self.run.id}{task}:{self.run.attempt}"


Listener = Callable[[Change], None]


class Listeners:
    """An ordered, thread-safe list of listeners; see the module docstring."""

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self._lock = threading.Lock()
        self._listeners: tuple[Listener, ...] = tuple(listeners)

    def __bool__(self) -> bool:
        # read without the lock: a tuple swap is atomic, and the hot path asks this
        return bool(self._listeners)

    def add(self, listener: Listener) -> None:
        """Register ``listener`` after the ones already registered."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def emit(self, changes: Iterable[Change]) -> None:
        """Call every listener with each change, in order; never raises."""
        listeners = self._listeners
        if not listeners:
            return
        for change in changes:
            for listener in listeners:
                try:
                    listener(change)
                except Exception:
                    _log.exception("a listener of %s failed for run %s", change.name, change.run.id)
