"""Hand every StepState change to any number of observers.

Contract: :meth:`Observers.emit` calls each observer in registration order,
from the calling thread (the runner's), each with its own copy of the state,
so one observer cannot change what the next one sees. An observer that raises
is logged (logger ``scd.engine``, with the step key and the traceback) and the
others are still called: observers are told, not asked, so none of them can
fail or stop the run (a run is stopped through ``cancel`` or ``kill``). An
observer that needs its failure to end the run records the failure and sets
the run's cancel event itself. Observers should be quick: the next step waits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from scd_core.models import StepState

from scd_engine.runtime.options import Observer

__all__ = ["Observers"]

_log = logging.getLogger("scd.engine")


class Observers:
    """An ordered list of observers, told of each change; see the module docstring."""

    def __init__(self, observers: Iterable[Observer] = ()) -> None:
        self._observers: list[Observer] = list(observers)

    def add(self, observer: Observer) -> None:
        """Tell ``observer`` of every later change too (call before the run starts)."""
        self._observers.append(observer)

    def __len__(self) -> int:
        return len(self._observers)

    def emit(self, state: StepState) -> None:
        """Tell every observer of ``state``; a failing one is logged, the rest still told."""
        for observer in self._observers:
            # Shallow copy plus its one mutable field: a deep copy costs more than the step.
            copy = state.model_copy(update={"outputs": dict(state.outputs)})
            try:
                observer(copy)
            except Exception:
                _log.exception(
                    "observer %s failed on step %s (%s); the run goes on",
                    getattr(observer, "__qualname__", type(observer).__name__),
                    state.id,
                    state.status,
                )
