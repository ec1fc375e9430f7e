"""Decide what a run's tasks do next: the fan-out and fan-in of the DAG, as plain data.

Contract: :func:`progress` is pure: given the plan, the task states recorded in
the run (``Run.tasks``, read through :class:`TaskView`) and the contexts
expressions read (``git``, ``inputs``, ``env``...; ``needs`` is built here), it
returns :class:`TaskDecision` values (plain data: the lifecycle, the one writer
of statuses, writes them) and the running instances to stop. Callers apply it
inside the run's one conditional update (the ``fan`` of
:meth:`scd_core.lifecycle.Lifecycle.end_task`), so two workers ending tasks at
once decide on different versions and only one decision is written: a task is
made ready exactly once. Deciding again on its own result changes nothing.

Rules, as GitHub Actions runs jobs:

- a task is decided once every instance of every task it ``needs`` is final
  (tasks without needs are decided at once);
- its ``if`` (default ``success()``) is evaluated with ``success()`` true when
  every need's result is ``success``, ``failure()`` when one is ``failure``,
  ``cancelled()`` false (a cancelled run decides nothing: the lifecycle ends
  it), ``always()`` true, and ``needs.<id>.result`` / ``.outputs`` readable;
  false → one ``skipped`` state for the task, true → one ``queued`` state per
  matrix instance (over ``max-parallel``: ``pending``, queued as others end);
  an ``if`` or a matrix that cannot be evaluated → one ``error`` state;
- a need's result is its instances' combined: ``failure`` if any failed (or
  errored), else ``cancelled`` if any was, else ``skipped`` if all were, else
  ``success``; its outputs are merged over its instances in order (GitHub: the
  last instance to set an output wins);
- ``fail-fast`` (default true): once an instance fails, its queued and
  pending siblings become ``cancelled`` and its running siblings are returned
  in ``stop``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from scd_core.models import FINAL_STATUSES

from scd_engine.expressions import ExpressionError, evaluate, to_bool
from scd_engine.plan.matrix import MatrixSettings, expand
from scd_engine.plan.model import Plan, PlanError, PlanTask

__all__ = ["FAIL_FAST_MESSAGE", "Progress", "TaskDecision", "TaskView", "need_results", "progress"]

FAIL_FAST_MESSAGE = "cancelled by fail-fast: {failed} failed"
_FAILED = ("failure", "error")
_ACTIVE = ("queued", "running")


class TaskView(Protocol):
    """What a decision reads of a recorded task instance (``scd_core``'s ``TaskState``)."""

    @property
    def id(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def outputs(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class TaskDecision:
    """A task instance's next state: its ``id``, its ``task``, the ``status`` to write
    (``queued``, ``pending``, ``skipped``, ``cancelled``, ``error``), its display
    ``name``, its ``matrix`` values and a ``message`` saying why, if any."""

    id: str
    task: str
    status: str
    name: str | None = None
    matrix: Mapping[str, Any] = field(default_factory=dict)
    message: str | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()


_Put = Callable[[TaskDecision], None]


@dataclass
class Progress:
    """What to write (``states``: new or changed task states) and which running
    instances to stop (``stop``: their ids); ``ready`` lists the states written
    ``queued`` by this decision, the task instances the caller must dispatch."""

    states: list[TaskDecision] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)

    @property
    def ready(self) -> list[TaskDecision]:
        """The states this decision made ``queued``: dispatch each once."""
        return [state for state in self.states if state.status == "queued"]


def progress(plan: Plan, recorded: Sequence[TaskView], contexts: Mapping[str, Any]) -> Progress:
    """The next states of the run's tasks; see the module docstring."""
    states: dict[str, TaskView] = {state.id: state for state in recorded}
    out = Progress()

    def put(state: TaskDecision) -> None:
        states[state.id] = state
        out.states = [s for s in out.states if s.id != state.id] + [state]

    changed = True
    while changed:  # a skip can decide its dependants: until nothing moves
        changed = False
        for task in plan.tasks:
            mine = [s for s in states.values() if s.task == task.id]
            if mine:
                changed = _fail_fast(task, mine, contexts, states, put, out) or changed
                changed = _promote(task, mine, contexts, states, put) or changed
            elif _needs_final(task, states.values()):
                for decided in _decide(task, list(states.values()), contexts):
                    put(decided)
                changed = True
    return out


def need_results(task: PlanTask, states: Sequence[TaskView]) -> dict[str, dict[str, Any]]:
    """The ``needs`` context of ``task``: each need's ``result`` and ``outputs``."""
    needs: dict[str, dict[str, Any]] = {}
    for need in task.needs:
        mine = [s for s in states if s.task == need]
        outputs: dict[str, str] = {}
        for state in mine:
            outputs.update(state.outputs)
        needs[need] = {"result": _result(mine), "outputs": outputs}
    return needs


def _result(states: Sequence[TaskView]) -> str:
    statuses = {s.status for s in states}
    if statuses & set(_FAILED):
        return "failure"
    if "cancelled" in statuses:
        return "cancelled"
    if statuses and statuses <= {"skipped"}:
        return "skipped"
    return "success"


def _needs_final(task: PlanTask, states: Any) -> bool:
    states = list(states)
    for need in task.needs:
        mine = [s for s in states if s.task == need]
        if not mine or any(s.status not in FINAL_STATUSES for s in mine):
            return False
    return True


def _decide(
    task: PlanTask, states: list[TaskView], contexts: Mapping[str, Any]
) -> list[TaskDecision]:
    needs = need_results(task, states)
    scope = {**contexts, "needs": needs}
    results = [n["result"] for n in needs.values()]
    functions = {
        "success": lambda: all(r == "success" for r in results),
        "failure": lambda: any(r == "failure" for r in results),
        "cancelled": lambda: False,
        "always": lambda: True,
    }
    try:
        run_it = to_bool(evaluate(task.condition or "success()", scope, functions=functions))
        settings = expand(task, scope) if run_it else None
    except (ExpressionError, PlanError) as exc:
        return [_state(task.id, task, "error", message=str(exc))]
    if settings is None:
        return [_state(task.id, task, "skipped")]
    return [
        _state(i.id, task, "pending" if _over(settings, n) else "queued", i.name, dict(i.values))
        for n, i in enumerate(settings.instances)
    ]


def _over(settings: MatrixSettings, position: int) -> bool:
    return settings.max_parallel is not None and position >= settings.max_parallel


def _state(
    state_id: str,
    task: PlanTask,
    status: str,
    name: str | None = None,
    matrix: dict[str, Any] | None = None,
    message: str | None = None,
) -> TaskDecision:
    name = name or task.name
    return TaskDecision(state_id, task.id, status, name, matrix or {}, message, needs=task.needs)


def _settings(
    task: PlanTask, states: Mapping[str, TaskView], contexts: Mapping[str, Any]
) -> MatrixSettings | None:
    if task.matrix.empty:
        return None
    try:
        scope = {**contexts, "needs": need_results(task, list(states.values()))}
        return expand(task, scope)
    except PlanError:
        return None


def _fail_fast(
    task: PlanTask,
    mine: list[TaskView],
    contexts: Mapping[str, Any],
    states: Mapping[str, TaskView],
    put: _Put,
    out: Progress,
) -> bool:
    failed = next((s for s in mine if s.status in _FAILED), None)
    if failed is None or len(mine) < 2:
        return False
    settings = _settings(task, states, contexts)
    if settings is None or not settings.fail_fast:
        return False
    changed = False
    message = FAIL_FAST_MESSAGE.format(failed=failed.id)
    for sibling in mine:
        if sibling.status in ("queued", "pending"):
            put(_decision(sibling, "cancelled", message))
            changed = True
        elif sibling.status == "running" and sibling.id not in out.stop:
            out.stop.append(sibling.id)
    return changed


def _promote(
    task: PlanTask,
    mine: list[TaskView],
    contexts: Mapping[str, Any],
    states: Mapping[str, TaskView],
    put: _Put,
) -> bool:
    pending = [s for s in mine if s.status == "pending"]
    if not pending:
        return False
    settings = _settings(task, states, contexts)
    limit = settings.max_parallel if settings is not None else None
    active = sum(1 for s in mine if s.status in _ACTIVE)
    changed = False
    for state in pending:
        if limit is not None and active >= limit:
            break
        put(_decision(state, "queued"))
        active += 1
        changed = True
    return changed


def _decision(state: TaskView, status: str, message: str | None = None) -> TaskDecision:
    if isinstance(state, TaskDecision):
        return replace(state, status=status, message=message or state.message)
    return TaskDecision(state.id, state.task, status, message=message)
