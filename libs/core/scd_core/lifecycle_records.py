"""How the lifecycle changes a run record and its tasks: small pure helpers.

Contract: every function here changes only the objects it is given (a run
record fresh from the store, or one of its task states) and does no I/O except
``close_logs``, which closes logs in a sink and never raises for a sink error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from scd_core.errors import ScdError
from scd_core.lifecycle_keys import in_task
from scd_core.logsink import LogSink
from scd_core.models import DEFAULT_TASK, FINAL_STATUSES, Run, Status, TaskState, utcnow

__all__ = ["close_logs", "combined", "finish", "has_final_task", "put_task", "task_of"]

_log = logging.getLogger("scd.lifecycle")


def close_logs(sink: LogSink, run_id: str, task: str | None = None) -> None:
    """Close every step log of the run (of ``task`` only, if given); idempotent. A
    sink error is logged, not raised: the ending matters more than the log."""
    try:
        for key in sink.steps(run_id):
            if task is None or in_task(key, task):
                sink.close(run_id, key)
    except ScdError as exc:
        _log.warning("run %s: could not close its logs: %s", run_id, exc)


def task_of(run: Run, task: str) -> TaskState:
    """The task's state in ``run`` (the record's own object), or a new queued one."""
    for state in run.tasks:
        if state.id == task:
            return state
    return TaskState(id=task, task=task, attempt=run.attempt if task == DEFAULT_TASK else 1)


def has_final_task(run: Run, task: str) -> bool:
    """Whether ``run`` records ``task`` and it is final."""
    return any(state.id == task and state.status in FINAL_STATUSES for state in run.tasks)


def put_task(run: Run, state: TaskState) -> None:
    """Add ``state`` (from ``task_of``) to ``run.tasks`` unless it is already there."""
    if all(existing is not state for existing in run.tasks):
        run.tasks.append(state)


def finish(record: Run | TaskState, status: Status, message: str | None) -> None:
    """Give ``record`` its final ``status`` and end time; ``message`` if one is given."""
    record.status = status
    record.finished_at = utcnow()
    if message is not None:
        record.message = message


_SEVERITY: tuple[Status, ...] = ("error", "failure", "cancelled", "success", "skipped")


def combined(tasks: Sequence[TaskState]) -> Status:
    """A run's status from its final tasks: the most severe of theirs."""
    statuses = {state.status for state in tasks}
    return next((status for status in _SEVERITY if status in statuses), "success")
