"""Conditional writes of a run's record, shared by the worker, pre-stop and the reaper.

Contract: every change is read-modify-write on ``Run.version``; on ``Conflict``
the run is read again and the change decided again, so concurrent writers (a
cancel request, the reaper, a second delivery) never lose each other's writes.
An ending is written at most once: a run already final is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable

from scd_core.errors import Conflict
from scd_core.models import FINAL_STATUSES, Run, Status, StepState, utcnow
from scd_core.store import RunStore

__all__ = ["end_open_steps", "end_run", "record_commit", "update_run"]

_ATTEMPTS = 20


def update_run(store: RunStore, run_id: str, change: Callable[[Run], Run | None]) -> Run | None:
    """Apply ``change`` to the current run until it sticks; None if ``change`` declines.

    ``change`` gets a fresh copy and returns the new run, or None to write nothing.
    ``Conflict`` after many lost races in a row (a writer loop elsewhere).
    """
    for _ in range(_ATTEMPTS):
        current = store.get_run(run_id)
        wanted = change(current.model_copy(deep=True))
        if wanted is None:
            return None
        try:
            return store.update_run(wanted)
        except Conflict:
            continue
    raise Conflict(f"run {run_id}: gave up after {_ATTEMPTS} conflicting updates")


def record_commit(store: RunStore, run_id: str, sha: str) -> Run | None:
    """Record ``sha`` as the run's commit when the run named none (a manual run of a
    ref, a schedule): the commit the checkout resolved, so the API, ``scd runs`` and
    the dashboard show what was built. A commit already recorded is left as it is."""

    def change(run: Run) -> Run | None:
        if run.event.commit:
            return None
        run.event = run.event.model_copy(update={"commit": sha})
        return run

    return update_run(store, run_id, change)


def end_run(store: RunStore, run_id: str, status: Status, message: str | None = None) -> Run | None:
    """End the run with ``status`` (and ``message``) unless it is already final.

    Returns the updated run, or None if it was final already.
    """

    def change(run: Run) -> Run | None:
        if run.status in FINAL_STATUSES:
            return None
        run.status = status
        run.finished_at = utcnow()
        if message is not None:
            run.message = message
        return run

    return update_run(store, run_id, change)


def end_open_steps(store: RunStore, run_id: str, message: str) -> None:
    """Record running steps as ``error`` and pending ones as ``skipped`` (the run ended)."""
    now = utcnow()
    for step in store.list_steps(run_id):
        if step.status not in ("running", "pending", "paused", "queued"):
            continue
        ended: StepState = step.model_copy()
        ended.status = "error" if step.status == "running" else "skipped"
        ended.outcome = ended.conclusion = ended.status
        ended.finished_at = now
        ended.message = message if step.status == "running" else None
        store.put_step(run_id, ended)
