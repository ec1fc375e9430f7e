"""Ending the runs of workers that died: the reaper ``scd serve`` calls every few seconds.

Contract: :func:`end_lost_runs` finds every run in ``running`` status whose lease
``run:<id>`` has expired (taking it as ``reaper`` succeeds), ends it ``error``
"worker lost", records its open steps as ended and closes their logs so live
followers finish; the lines written before the worker died stay. A run whose
worker still renews its lease is left alone. Idempotent and safe to run in
several processes at once (the lease and the conditional update decide).

Retrying a lost run (``retry_lost``) is the caller's choice: the ids returned are
the runs just ended, which a caller may dispatch again as a new attempt.
"""

from __future__ import annotations

import logging
from datetime import datetime

from scd_core.errors import ScdError
from scd_core.logsink import LogSink
from scd_core.store import RunStore

from functions.worker.heartbeat import lease_key
from functions.worker.records import end_open_steps, end_run

__all__ = ["LOST_MESSAGE", "REAPER", "close_logs", "end_lost_runs"]

LOST_MESSAGE = "worker lost"
REAPER = "reaper"
_log = logging.getLogger("scd.worker")


def end_lost_runs(
    store: RunStore,
    *,
    sink: LogSink | None = None,
    now: datetime | None = None,
    ttl_s: float = 30.0,
) -> list[str]:
    """End every running run whose worker's lease expired; the ids of the runs ended.

    ``now`` is accepted for symmetry with other periodic jobs but lease expiry is
    the store's wall clock; ``ttl_s`` is how long the reaper holds a lease while it
    ends the run. ``sink`` (optional) gets the run's step logs closed.
    """
    del now  # expiry is judged by the store against time.time()
    ended: list[str] = []
    cursor: str | None = None
    while True:
        runs, cursor = store.list_runs(status="running", limit=200, cursor=cursor)
        for run in runs:
            if _reap(store, sink, run.id, ttl_s):
                ended.append(run.id)
        if cursor is None:
            return ended


def _reap(store: RunStore, sink: LogSink | None, run_id: str, ttl_s: float) -> bool:
    key = lease_key(run_id)
    if not store.acquire_lease(key, REAPER, ttl_s):
        return False  # its worker is alive
    try:
        if end_run(store, run_id, "error", LOST_MESSAGE) is None:
            return False  # it ended while we looked
        _log.warning("run %s: worker lost; ended as error", run_id)
        end_open_steps(store, run_id, LOST_MESSAGE)
        if sink is not None:
            close_logs(sink, run_id)
        return True
    finally:
        store.release_lease(key, REAPER)


def close_logs(sink: LogSink, run_id: str) -> None:
    """Close every step log of the run (idempotent); a sink error is logged, not raised."""
    try:
        for step in sink.steps(run_id):
            sink.close(run_id, step)
    except ScdError as exc:
        _log.warning("run %s: could not close its logs: %s", run_id, exc)
