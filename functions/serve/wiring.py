"""What joins the local invoker and the reaper to the run store in ``scd serve``.

Contract: :class:`Destinations` holds the invoker's callbacks; both change
statuses only through the lifecycle they are given. ``on_failure`` (a task that
failed for good, expired in the queue, or lost its worker) ends the job's task
(and so its run) ``error`` with the invoker's reason unless it is already final,
ends its open steps and closes their logs; a run that was ``running`` when its
delivery broke off (connection reset, the worker process died) is ended
"worker lost: <reason>". ``on_stop`` records a cancel request and ends a run
still ``queued`` as ``cancelled`` (a queued task stopped is never delivered, so
nobody else would). Callbacks never raise: a store error is logged.

:class:`Reaper` is a daemon thread calling ``end_lost_runs`` every ``interval_s``
until ``stop()``.
"""

from __future__ import annotations

import logging
import threading

from scd_core.errors import NotFound, ScdError
from scd_core.invokers.results import InvocationResult
from scd_core.lifecycle import LOST_MESSAGE, Lifecycle
from scd_core.logsink import LogSink
from scd_core.models import FINAL_STATUSES, Job
from scd_core.store import RunStore

from functions.worker.lost import end_lost_runs

__all__ = ["Destinations", "Reaper"]

log = logging.getLogger("scd.serve")


class Destinations:
    """The local invoker's on-failure and on-stop handlers for one store and sink."""

    def __init__(self, store: RunStore, sink: LogSink, lifecycle: Lifecycle | None = None) -> None:
        self.store = store
        self.sink = sink
        self.lifecycle = lifecycle if lifecycle is not None else Lifecycle(store)

    def on_failure(self, job: Job, result: InvocationResult) -> None:
        """End the job's run ``error`` with the invoker's reason, if not final yet."""
        reason = result.error_message or f"invocation {result.status.lower()}"
        try:
            run = self.store.get_run(job.run)
            if run.status in FINAL_STATUSES:
                return
            if run.status == "running" and result.error_type == "UnhandledInvocationError":
                reason = f"{LOST_MESSAGE}: {reason}"
            if self.lifecycle.abort(job.run, reason, task=job.task, sink=self.sink) is not None:
                log.warning("run %s ended as error: %s", job.run, reason)
        except NotFound:
            log.warning("task %s failed but has no run in the store", job.id)
        except ScdError as exc:
            log.error("run %s: could not record its failure: %s", job.run, exc)

    def on_stop(self, job_id: str) -> None:
        """Record a cancel request for the run; end it ``cancelled`` if still queued."""
        try:
            self.store.request_control(job_id, "cancel")
            self.lifecycle.cancel_queued(job_id)
        except NotFound:
            log.warning("stop of task %s, which has no run in the store", job_id)
        except ScdError as exc:
            log.error("run %s: could not record its cancel request: %s", job_id, exc)


class Reaper(threading.Thread):
    """Ends runs whose worker died (expired lease) every ``interval_s`` seconds."""

    def __init__(
        self,
        store: RunStore,
        sink: LogSink,
        interval_s: float = 2.0,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        super().__init__(name="scd-reaper", daemon=True)
        self.store = store
        self.sink = sink
        self.lifecycle = lifecycle if lifecycle is not None else Lifecycle(store)
        self.interval_s = interval_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            try:
                end_lost_runs(self.store, sink=self.sink, lifecycle=self.lifecycle)
            except ScdError as exc:  # a busy store: try again at the next tick
                log.warning("reaper: %s", exc)

    def stop(self) -> None:
        """End the thread and wait for it; idempotent."""
        self._stop_event.set()
        if self.is_alive():
            self.join()
