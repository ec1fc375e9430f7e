"""Ending the task FC gave up on: the failure handler's one piece of work.

``Handler(store, sink).handle(failure)`` ends the failure's task ``error`` with
FC's reason through ``Lifecycle.abort`` (open steps ended, logs closed, then the
task and, once every task is final, the run), unless the task or run is already
final or the task has moved on to a later attempt than the failed job's (a
retry is running it). Idempotent: FC delivers a destination at least once, and
a second delivery finds the task final and writes nothing. Blocking store I/O;
safe to call from many threads and processes at once (the lifecycle's
conditional writes decide). A run the store does not have is ``NotFound``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from scd_core.lifecycle import Lifecycle
from scd_core.lifecycle_records import task_of
from scd_core.logsink import LogSink
from scd_core.models import FINAL_STATUSES
from scd_core.store import RunStore

from functions.failure_handler.destination import Failure

__all__ = ["Handled", "Handler"]

_log = logging.getLogger("scd.failure_handler")


@dataclass(frozen=True)
class Handled:
    """What ``handle`` did: ``ended`` the task, or left it (``left`` says why)."""

    run_id: str
    task: str | None
    ended: bool
    left: str | None = None


class Handler:
    """Ends tasks FC gave up on in ``store`` (see the module doc)."""

    def __init__(self, store: RunStore, sink: LogSink | None = None) -> None:
        self.store = store
        self.sink = sink
        self.lifecycle = Lifecycle(store)

    def handle(self, failure: Failure) -> Handled:
        """End ``failure``'s task ``error`` unless it is final or retried."""
        run = self.store.get_run(failure.run_id)
        if run.status in FINAL_STATUSES:
            return Handled(run.id, failure.task, False, f"the run is already {run.status}")
        if failure.task is not None:
            state = task_of(run, failure.task)
            if state.status in FINAL_STATUSES:
                return Handled(run.id, failure.task, False, f"the task is already {state.status}")
            if failure.attempt and state.attempt > failure.attempt:
                return Handled(run.id, failure.task, False, f"attempt {state.attempt} runs it")
        ended = self.lifecycle.abort(run.id, failure.reason, task=failure.task, sink=self.sink)
        if ended is None:
            return Handled(run.id, failure.task, False, "it ended meanwhile")
        _log.warning("run %s task %s: %s; ended as error", run.id, failure.task, failure.reason)
        return Handled(run.id, failure.task, True)
