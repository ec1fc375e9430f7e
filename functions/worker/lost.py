"""Ending the runs of workers that died: the reaper ``scd serve`` calls every few seconds.

Contract: :func:`end_lost_runs` finds every run in ``running`` status and asks
the lifecycle to reap it: each running task whose lease ``task:<run>:<task>``
has expired (taking it as ``reaper`` succeeds) is ended ``error`` "worker lost",
its open steps recorded as ended and its logs closed so live followers finish;
the lines written before the worker died stay. A task whose worker still renews
its lease is left alone. Idempotent and safe to run in several processes at
once (the lease and the conditional update decide).

Retrying a lost run is the caller's choice (the app's ``retry``): the ids returned
are the runs just ended, and :func:`retry_lost_run` records and dispatches the next
attempt of one as a new run (``rerun_of`` the lost one), exactly once.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import datetime

from scd_core.lifecycle import LOST_MESSAGE, REAPER, Lifecycle, close_logs
from scd_core.logsink import LogSink
from scd_core.models import Job, Run
from scd_core.store import RunStore

__all__ = ["LOST_MESSAGE", "REAPER", "close_logs", "end_lost_runs", "retry_lost_run"]

_log = logging.getLogger("scd.worker")


def end_lost_runs(
    store: RunStore,
    *,
    sink: LogSink | None = None,
    now: datetime | None = None,
    ttl_s: float = 30.0,
    lifecycle: Lifecycle | None = None,
) -> list[str]:
    """End every running task whose worker's lease expired; the ids of the runs touched.

    ``now`` is accepted for symmetry with other periodic jobs but lease expiry is
    the store's wall clock; ``ttl_s`` is how long the reaper holds a lease while it
    ends the task. ``sink`` (optional) gets the task's step logs closed. Changes
    go through ``lifecycle`` (a new one on ``store`` if None) and its listeners.
    """
    del now  # expiry is judged by the store against time.time()
    lifecycle = lifecycle if lifecycle is not None else Lifecycle(store)
    ended: list[str] = []
    cursor: str | None = None
    while True:
        runs, cursor = store.list_runs(status="running", limit=200, cursor=cursor)
        for run in runs:
            if lifecycle.reap(run, ttl_s, sink):
                ended.append(run.id)
        if cursor is None:
            return ended


def retry_lost_run(
    store: RunStore,
    lost: Run,
    job: Job,
    dispatch: Callable[[Job], None],
    lifecycle: Lifecycle | None = None,
) -> Run:
    """Record and dispatch the next attempt of ``lost`` (ended "worker lost"): a new
    run of the same event, ``rerun_of`` the lost one, its ``attempt`` one more.

    ``job`` is the lost run's job (its checkout target is kept). Idempotent: the new
    run's dedup key is ``retry:<lost run id>`` and its job id is the new run's id,
    so any number of callers, at once or again later, record and queue one retry.
    Whether the app allows a retry is the caller's decision (``App.retry``).
    """
    lifecycle = lifecycle if lifecycle is not None else Lifecycle(store)
    fresh = Run(
        id=f"{time.time_ns() // 1_000_000:012x}{os.urandom(10).hex()}",  # a trigger's run id
        app=lost.app,
        dedup_key=f"retry:{lost.id}",
        event=lost.event,
        pipeline=lost.pipeline,
        attempt=lost.attempt + 1,
        rerun_of=lost.id,
    )
    run, created = store.create_run(fresh)
    if created:
        lifecycle.queued([run])
        _log.warning(
            "run %s: worker lost; retried as run %s (attempt %d)", lost.id, run.id, run.attempt
        )
    dispatch(job.model_copy(update={"id": run.id, "run_id": None, "attempt": run.attempt}))
    return run
