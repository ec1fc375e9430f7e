"""The DAG's fan-out and fan-in as the lifecycle writes it: decisions applied to a run.

Contract: a *fan* is a pure function the caller gives the lifecycle (the engine's
``progress`` over the run's plan): it reads the run's task states and returns
:class:`Decided` values, each a task instance's next status (``queued``,
``pending``, or final: ``skipped``, ``cancelled``, ``error``). The lifecycle
calls it inside the run's one conditional update, again on every retry after a
``Conflict``, so the decision written is always the one made on the version
written over: two workers ending two tasks at the same moment cannot both make
a task ready. :func:`apply_decisions` changes only the run it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from scd_core.lifecycle_events import ChangeName
from scd_core.lifecycle_records import finish
from scd_core.models import FINAL_STATUSES, Run, Status, TaskState

__all__ = ["Decided", "Fan", "FanIn", "apply_decisions"]


class Decided(Protocol):
    """One task instance's next state, as a fan decides it."""

    @property
    def id(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def matrix(self) -> Mapping[str, Any]: ...
    @property
    def message(self) -> str | None: ...
    @property
    def needs(self) -> Sequence[str]: ...


Fan = Callable[[Sequence[TaskState]], Sequence[Decided]]
"""Given a run's task states (after the change being written), their next states."""


@dataclass(frozen=True)
class FanIn:
    """What a fanning change wrote: the updated ``run`` (None: nothing was written,
    the task or run was final already) and the task instances it made ``queued``,
    each to be dispatched by the caller, once (only the writer that won hears them)."""

    run: Run | None
    ready: list[TaskState] = field(default_factory=list)


def apply_decisions(
    run: Run, decisions: Sequence[Decided], ready: list[TaskState]
) -> list[tuple[ChangeName, str | None]]:
    """Write ``decisions`` into ``run.tasks``; ``ready`` becomes the states made
    ``queued``. The changes to announce (``task.finished`` of each task ended here)."""
    ready.clear()
    names: list[tuple[ChangeName, str | None]] = []
    by_id = {state.id: state for state in run.tasks}
    for decided in decisions:
        state = by_id.get(decided.id)
        if state is None:
            state = TaskState(id=decided.id, task=decided.task, name=decided.name)
            state.matrix, state.needs = dict(decided.matrix), list(decided.needs)
            state.status = "pending"
            run.tasks.append(state)
            by_id[state.id] = state
        if state.status == decided.status or state.status in FINAL_STATUSES:
            continue
        status: Status = _status(decided.status)
        if status in FINAL_STATUSES:
            finish(state, status, decided.message)
            names.append(("task.finished", state.id))
            continue
        state.status, state.message = status, decided.message
        if status == "queued":
            ready.append(state)
    return names


def _status(text: str) -> Status:
    allowed: tuple[Status, ...] = ("queued", "pending", "skipped", "cancelled", "error")
    for status in allowed:
        if text == status:
            return status
    raise ValueError(f"a fan decided status {text!r}; it may decide {', '.join(allowed)}")
