"""Ending the runs of workers that died: the reaper ``scd serve`` calls every few seconds.

Contract: :func:`end_lost_runs` finds every run in ``running`` status and asks
the lifecycle to reap it: each running task whose lease ``task:<run>:<task>``
has expired (taking it as ``reaper`` succeeds) is ended ``error`` "worker lost",
its open steps recorded as ended and its logs closed so live followers finish;
the lines written before the worker died stay. A task whose worker still renews
its lease is left alone. Idempotent and safe to run in several processes at
once (the lease and the conditional update decide).

Retrying a lost run (``retry_lost``) is the caller's choice: the ids returned are
the runs just ended, which a caller may dispatch again as a new attempt.
"""

from __future__ import annotations

from datetime import datetime

from scd_core.lifecycle import LOST_MESSAGE, REAPER, Lifecycle, close_logs
from scd_core.logsink import LogSink
from scd_core.store import RunStore

__all__ = ["LOST_MESSAGE", "REAPER", "close_logs", "end_lost_runs"]


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
