"""The run lifecycle: the one writer of a run's and a task's status.

Contract. Every status change of a run or of a task (``Run.tasks``) goes through
a :class:`Lifecycle`: the trigger announces queued runs, the worker claims and
ends a task, the API cancels a queued run, the failure handler and the reaper
end what a lost worker left open. Task states live inside the run record, so
each change is one conditional ``update_run`` on ``Run.version``; on
``Conflict`` the run is read again and the change decided again, up to
``ATTEMPTS`` times in a row (then ``Conflict``). Final statuses are final: an
ending of a task or run already final writes nothing and returns None, so every
ending is idempotent and concurrent endings are written once, the first winning.
A task ending also ends the run once every task of it is final (fan-in).

The DAG. A run of several tasks fans out and in through the same one write:
:meth:`Lifecycle.fan_out` replaces the task that read the plan with the first
decision of a *fan* (:mod:`scd_core.lifecycle_fan`), :meth:`Lifecycle.end_and_fan`
ends a task and applies the fan's next decision; each returns the instances it
made ``queued``, which only the writer whose update stuck hears of, so each is
dispatched once even when two tasks end at the same moment on two workers.

Events. After a write succeeds, each change is delivered to the registered
listeners (``listen``), in this order: ``run.started`` before ``task.started``;
``task.finished`` (each task ended) before ``run.finished``; ``run.queued`` per
run in the order the runs were created. Delivery is at least once: once per
successful write, and again whenever an ending is repeated on a task or run that
is already final (a retried failure handler, a second delivery of a job), so a
listener must be idempotent (``Change.key``). A change whose process dies between
the write and the listeners is delivered only if some caller repeats the ending.
Listeners run synchronously in the writer's thread (``run.queued`` on the
trigger's launcher thread, before the webhook's answer): a listener must be quick,
must not mutate ``change.run``, may read the store and may call this lifecycle
(a fan-in starting the next task); what it raises is logged and never fails the
change. With no listener registered no change is built (the webhook path pays
nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from scd_core.billing import FcSize
from scd_core.errors import Conflict, NotFound
from scd_core.lifecycle_events import Change, ChangeName, Listener, Listeners
from scd_core.lifecycle_fan import Fan, FanIn, apply_decisions
from scd_core.lifecycle_keys import lease_key, legacy_lease_key
from scd_core.lifecycle_records import (
    close_logs,
    combined,
    finish,
    has_final_task,
    put_task,
    task_of,
)
from scd_core.logsink import LogSink
from scd_core.models import (
    DEFAULT_TASK,
    FINAL_STATUSES,
    Run,
    Status,
    StepState,
    TaskState,
    utcnow,
)
from scd_core.store import RunStore

__all__ = [
    "ATTEMPTS",
    "CANCELLED_QUEUED",
    "LOST_MESSAGE",
    "REAPER",
    "Change",
    "Claim",
    "Fan",
    "FanIn",
    "Lifecycle",
    "Listener",
    "close_logs",
]

ATTEMPTS = 20
CANCELLED_QUEUED = "cancelled before it started"
LOST_MESSAGE = "worker lost"
REAPER = "reaper"
_OPEN_STEPS = ("running", "pending", "paused", "queued")
_log = logging.getLogger("scd.lifecycle")

# A decision: the new run and the changes it makes, each with its task id, or None.
_Decision = tuple[Run, list[tuple[ChangeName, str | None]]] | None


@dataclass(frozen=True)
class Claim:
    """The result of :meth:`Lifecycle.claim`: the running run, or why it was skipped."""

    run: Run | None
    skipped: str | None = None


class Lifecycle:
    """Status changes of the runs in ``store``; see the module docstring."""

    def __init__(self, store: RunStore, listeners: Iterable[Listener] = ()) -> None:
        self.store = store
        self.listeners = Listeners(listeners)

    def listen(self, listener: Listener) -> None:
        """Deliver every later change to ``listener`` (after those registered before)."""
        self.listeners.add(listener)

    # -- starting ------------------------------------------------------------------

    def queued(self, runs: Sequence[Run]) -> None:
        """Announce runs just created (``run.queued``); the store was written already."""
        if self.listeners:
            self.listeners.emit(Change("run.queued", run) for run in runs)

    def claim(
        self,
        run_id: str,
        task: str = DEFAULT_TASK,
        *,
        owner: str,
        ttl_s: float,
        attempt: int = 1,
        region: str | None = None,
        size: FcSize | None = None,
    ) -> Claim:
        """Take the task's lease and mark it (and its run) ``running``.

        ``size`` is the FC instance the caller runs on, recorded on the task so that
        its cost can be shown (``scd_core.billing``); None off FC.

        Skipped, with the reason, for an unknown run, a final run or task, or a
        lease held by another live worker. A task found ``running`` belonged to a
        worker that died: it is taken over as the next attempt. On success the
        caller holds ``lease_key(run_id, task)`` and must renew and ``release`` it.
        """
        try:
            run = self.store.get_run(run_id)
        except NotFound:
            return Claim(None, "no such run")
        if run.status in FINAL_STATUSES:
            return Claim(None, f"run already {run.status}")
        key = lease_key(run_id, task)
        if not self.store.acquire_lease(key, owner, ttl_s):
            return Claim(None, "run is being run by another worker")

        def start(current: Run) -> _Decision:
            state = task_of(current, task)
            if current.status in FINAL_STATUSES or state.status in FINAL_STATUSES:
                return None
            # a legacy run (no tasks) left running: its one task's worker died
            legacy = task == DEFAULT_TASK and not current.tasks and current.status == "running"
            taken_over = state.status == "running" or legacy
            state.attempt = max(attempt, state.attempt + 1 if taken_over else state.attempt)
            state.status, state.started_at, state.finished_at = "running", utcnow(), None
            state.region, state.message = region, None
            state.memory_mb = None if size is None else size.memory_mb
            state.vcpu = None if size is None else size.vcpu
            put_task(current, state)
            names: list[tuple[ChangeName, str | None]] = []
            if current.status != "running" or taken_over:
                current.started_at, current.finished_at, current.message = utcnow(), None, None
                names.append(("run.started", None))
            current.status = "running"
            current.attempt = max(current.attempt, state.attempt)
            return current, [*names, ("task.started", task)]

        updated = self._change(run_id, start)
        if updated is None:
            self.store.release_lease(key, owner)
            now = self.store.get_run(run_id)
            if now.status in FINAL_STATUSES:
                return Claim(None, f"run already {now.status}")
            return Claim(None, f"task {task} already {task_of(now, task).status}")
        return Claim(updated)

    def release(self, run_id: str, task: str, owner: str) -> None:
        """Let go of the task's lease (after its ending was written)."""
        self.store.release_lease(lease_key(run_id, task), owner)

    # -- ending --------------------------------------------------------------------

    def end_step(
        self, run_id: str, step: StepState, status: Status, message: str | None = None
    ) -> None:
        """Record ``step`` ended with ``status`` (its outcome and conclusion too)."""
        step.status = step.outcome = step.conclusion = status
        step.finished_at, step.message = utcnow(), message
        self.store.put_step(run_id, step)

    def end_open_steps(self, run_id: str, message: str, task: str | None = None) -> None:
        """Record open steps (of ``task``, or of every task) ended: a running one ``error``
        with ``message``, one not started ``skipped``; final ones stay as they are."""
        now = utcnow()
        for step in self.store.list_steps(run_id):
            if step.status not in _OPEN_STEPS or (task is not None and step.task != task):
                continue
            ended = step.model_copy()
            ended.status = "error" if step.status == "running" else "skipped"
            ended.outcome = ended.conclusion = ended.status
            ended.finished_at = now
            ended.message = message if step.status == "running" else None
            self.store.put_step(run_id, ended)

    def end_task(
        self, run_id: str, task: str, status: Status, message: str | None = None
    ) -> Run | None:
        """End the task with ``status`` unless it is final; the run too once every task
        is final (its status the worst of theirs). The updated run, or None."""
        return self.end_and_fan(run_id, task, status, message).run

    def end_and_fan(
        self,
        run_id: str,
        task: str,
        status: Status,
        message: str | None = None,
        *,
        fan: Fan | None = None,
        outputs: Mapping[str, str] | None = None,
    ) -> FanIn:
        """``end_task``, and in the same write the task's ``outputs`` and the next
        decision of ``fan`` (tasks made ready, skipped, cancelled); the run ends once
        every task is final after it. ``FanIn.ready``: the instances to dispatch,
        empty unless this call wrote."""
        ready: list[TaskState] = []

        def end(run: Run) -> _Decision:
            state = task_of(run, task)
            if state.status in FINAL_STATUSES or run.status in FINAL_STATUSES:
                return None
            if outputs is not None:
                state.outputs = dict(outputs)
            finish(state, status, message)
            put_task(run, state)
            names: list[tuple[ChangeName, str | None]] = [("task.finished", task)]
            if fan is not None:
                names += apply_decisions(run, fan(run.tasks), ready)
            return run, self._maybe_end(run, names, message)

        updated = self._ending(run_id, end, task)
        return FanIn(updated, ready if updated is not None else [])

    def fan_out(self, run_id: str, planner: str, fan: Fan) -> FanIn:
        """Replace task ``planner`` (the invocation that read the plan: the run's first,
        ``default``) by ``fan``'s first decision, once: a run that has other tasks
        already, or is final, is left as it is (``FanIn(None)``). The run ends here if
        every task decided is final (all skipped)."""
        ready: list[TaskState] = []

        def start(run: Run) -> _Decision:
            if run.status in FINAL_STATUSES or any(t.id != planner for t in run.tasks):
                return None
            run.tasks = []
            names = apply_decisions(run, fan(run.tasks), ready)
            return run, self._maybe_end(run, names, None)

        updated = self._change(run_id, start)
        return FanIn(updated, ready if updated is not None else [])

    @staticmethod
    def _maybe_end(
        run: Run, names: list[tuple[ChangeName, str | None]], message: str | None
    ) -> list[tuple[ChangeName, str | None]]:
        if run.tasks and all(t.status in FINAL_STATUSES for t in run.tasks):
            finish(run, combined(run.tasks), message)
            return [*names, ("run.finished", None)]
        return names

    def end_run(self, run_id: str, status: Status, message: str | None = None) -> Run | None:
        """End the run with ``status`` unless it is final, and each open task with it (a
        task not started yet as ``skipped``, or ``cancelled``). The updated run, or None."""

        def end(run: Run) -> _Decision:
            if run.status in FINAL_STATUSES:
                return None
            names: list[tuple[ChangeName, str | None]] = []
            for state in run.tasks:
                if state.status not in FINAL_STATUSES:
                    started = state.status == "running" or status == "cancelled"
                    finish(state, status if started else "skipped", message)
                    names.append(("task.finished", state.id))
            finish(run, status, message)
            return run, [*names, ("run.finished", None)]

        return self._ending(run_id, end, None)

    def hold(self, run_id: str, message: str) -> Run | None:
        """Hold a ``queued`` run ``paused`` with ``message`` (a fork's run waiting for
        approval) before any worker is handed it; the updated run, or None."""

        def pause(run: Run) -> _Decision:
            if run.status != "queued":
                return None
            run.status, run.message = "paused", message
            return run, []

        return self._change(run_id, pause)

    def approve(self, run_id: str, held_for: str, by: str) -> Run | None:
        """Release a run held with ``held_for`` back to ``queued``, recording who
        approved it; the updated run, or None when it is not held for that reason."""

        def release(run: Run) -> _Decision:
            if run.status != "paused" or run.message != held_for:
                return None
            run.status, run.message, run.approved_by = "queued", None, by
            return run, []

        return self._change(run_id, release)

    def record_commit(self, run_id: str, sha: str) -> Run | None:
        """Record ``sha`` as the run's commit when the run named none (a manual run of a
        ref, a schedule): the commit the checkout resolved, so the API, ``scd runs`` and
        the dashboard show what was built. A commit already recorded is left as it is;
        no status changes, so no listener hears of it. The updated run, or None."""

        def record(run: Run) -> _Decision:
            if run.event.commit:
                return None
            run.event = run.event.model_copy(update={"commit": sha})
            return run, []

        return self._change(run_id, record)

    def cancel_queued(self, run_id: str, message: str = CANCELLED_QUEUED) -> bool:
        """End the run ``cancelled`` if it is still ``queued`` (or ``paused``: held before any
        worker had it, as a fork's run waiting for approval); whether this call did.

        A worker claiming it at the same moment either wins (the run is running and
        the caller's cancel request reaches it) or loses (it finds the run final).
        """

        def cancel(run: Run) -> _Decision:
            if run.status not in ("queued", "paused"):  # paused: held, no worker has it
                return None
            names: list[tuple[ChangeName, str | None]] = []
            for state in run.tasks:
                if state.status not in FINAL_STATUSES:
                    finish(state, "cancelled", message)
                    names.append(("task.finished", state.id))
            finish(run, "cancelled", message)
            return run, [*names, ("run.finished", None)]

        return self._change(run_id, cancel) is not None

    def abort(
        self, run_id: str, message: str, *, task: str | None = None, sink: LogSink | None = None
    ) -> Run | None:
        """End ``task`` (or the whole run) ``error`` with ``message`` after its worker
        stopped abnormally: open steps first (whoever sees the task final sees no step
        running), then its logs closed (live followers finish), then the status.
        The updated run, or None if it was final already."""
        self.end_open_steps(run_id, message, task)
        if sink is not None:
            close_logs(sink, run_id, task)
        if task is None:
            return self.end_run(run_id, "error", message)
        return self.end_task(run_id, task, "error", message)

    def reap(self, run: Run, ttl_s: float, sink: LogSink | None = None) -> bool:
        """End, as ``error`` "worker lost", each running task of ``run`` whose lease
        expired (taking it as ``REAPER`` succeeds); whether any was ended. A task whose
        worker still renews its lease is left alone. Safe in many processes at once."""
        if not run.tasks:  # recorded before tasks existed, or by a release between
            keys = [legacy_lease_key(run.id), lease_key(run.id)]
            return self._reap(keys, run.id, None, ttl_s, sink)
        reaped = False
        for state in run.tasks:
            if state.status == "running":
                keys = [lease_key(run.id, state.id)]
                reaped = self._reap(keys, run.id, state.id, ttl_s, sink) or reaped
        return reaped

    def _reap(
        self, keys: list[str], run_id: str, task: str | None, ttl_s: float, sink: LogSink | None
    ) -> bool:
        taken: list[str] = []
        try:
            for key in keys:
                if not self.store.acquire_lease(key, REAPER, ttl_s):
                    return False  # its worker is alive
                taken.append(key)
            if self.abort(run_id, LOST_MESSAGE, task=task, sink=sink) is None:
                return False  # it ended while we looked
            _log.warning("run %s: worker lost; ended as error", run_id)
            return True
        finally:
            for key in taken:
                self.store.release_lease(key, REAPER)

    # -- the one write -------------------------------------------------------------

    def _ending(self, run_id: str, end: Callable[[Run], _Decision], task: str | None) -> Run | None:
        """``_change`` of an ending; a repeated one delivers its finished changes again."""
        updated = self._change(run_id, end)
        if updated is None and self.listeners:
            current = self.store.get_run(run_id)
            again: list[Change] = []
            if task is not None and has_final_task(current, task):
                again.append(Change("task.finished", current, task_of(current, task)))
            if current.status in FINAL_STATUSES:
                again.append(Change("run.finished", current))
            self.listeners.emit(again)
        return updated

    def _change(self, run_id: str, decide: Callable[[Run], _Decision]) -> Run | None:
        """Apply ``decide`` to the current run until the write sticks, then deliver."""
        for _ in range(ATTEMPTS):
            decision = decide(self.store.get_run(run_id))
            if decision is None:
                return None
            wanted, names = decision
            try:
                updated = self.store.update_run(wanted)
            except Conflict:
                continue
            if self.listeners:
                self.listeners.emit(
                    Change(name, updated, None if task is None else task_of(updated, task))
                    for name, task in names
                )
            return updated
        raise Conflict(f"run {run_id}: gave up after {ATTEMPTS} conflicting updates")
