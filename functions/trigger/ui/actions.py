"""The dashboard's two actions, cancel and rerun, on the same store and invoker paths as the API.

Contract (both blocking; call them in a thread):

- ``cancel(state, run_id)`` records a ``cancel`` control request, asks the
  invoker to stop the job and ends a still-queued run ``cancelled``, exactly as
  ``POST /api/v1/runs/{id}/cancel``; ``Conflict`` for a run already ended.
- ``rerun(state, run_id)`` records a new run of the same app, commit and event
  with ``rerun_of = run_id`` and dedup key ``rerun:<id>:<n>`` (n = 1, 2, ...:
  the first free one), dispatches it, and answers it.
"""

from __future__ import annotations

from scd_core.errors import Conflict
from scd_core.models import FINAL_STATUSES, Job, Run

from functions.trigger.launcher import new_run_id
from functions.trigger.runs_api import cancel_queued
from functions.trigger.state import TriggerState

__all__ = ["cancel", "rerun"]

_MAX_RERUNS = 10_000


def cancel(state: TriggerState, run_id: str) -> str:
    """Cancel the run; its status right after (``cancelled`` if it was still queued)."""
    store = state.launcher.store
    run = store.get_run(run_id)
    if run.status in FINAL_STATUSES:
        raise Conflict(f"run {run_id} already ended ({run.status})")
    store.request_control(run_id, "cancel")
    state.launcher.invoker.stop(run_id)
    cancel_queued(store, run_id)
    return store.get_run(run_id).status


def rerun(state: TriggerState, run_id: str) -> Run:
    """Record and dispatch a new run of ``run_id``'s commit and event; the new run."""
    store = state.launcher.store
    first = store.get_run(run_id)
    app = state.app(first.app)
    for n in range(1, _MAX_RERUNS):
        key = f"rerun:{run_id}:{n}"
        if store.find_run(key) is not None:
            continue
        run, created = store.create_run(
            Run(
                id=new_run_id(),
                app=first.app,
                dedup_key=key,
                event=first.event,
                pipeline=first.pipeline,
                rerun_of=run_id,
            )
        )
        if not created:  # another rerun took this number first
            continue
        event = run.event
        state.launcher.invoker.dispatch(
            Job(
                id=run.id,
                app=run.app,
                event=event,
                clone_url=event.clone_url or app.repo,
                ref=event.ref,
                commit=event.commit,
                pipeline=run.pipeline,
            )
        )
        return run
    raise Conflict(f"run {run_id} was rerun too many times")
