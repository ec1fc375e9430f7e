"""``MemoryInvoker``: records what it is given, for tests and wiring checks."""

from __future__ import annotations

import threading
from collections.abc import Callable

from scd_core.errors import BackendError
from scd_core.models import Job
from scd_core.stores.rows import dump_model, load_model

__all__ = ["MemoryInvoker"]


class MemoryInvoker:
    """An ``Invoker`` that keeps dispatched jobs in order instead of running them.

    ``jobs`` lists each dispatched job once, in dispatch order; ``stopped`` lists the
    ids of dispatched jobs that were stopped, once each, in order. If ``on_dispatch``
    is given it is called with each newly dispatched job, outside the lock, in the
    dispatching thread (a test can run a fake worker there); its exceptions propagate.
    Thread-safe.

    Jobs are kept as their JSON text, as a queue would hold them (a copy later
    changes to the dispatched object cannot reach); ``jobs`` parses them back.
    """

    def __init__(self, on_dispatch: Callable[[Job], None] | None = None) -> None:
        self._on_dispatch = on_dispatch
        self._lock = threading.Lock()
        self._jobs: list[str] = []
        self._ids: set[str] = set()
        self._stopped: list[str] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"MemoryInvoker(jobs={len(self._jobs)})"

    @property
    def jobs(self) -> list[Job]:
        """A copy of the dispatched jobs, in dispatch order."""
        with self._lock:
            texts = list(self._jobs)
        return [load_model(Job, text) for text in texts]

    @property
    def stopped(self) -> list[str]:
        """The ids of stopped jobs, in the order they were stopped."""
        with self._lock:
            return list(self._stopped)

    def dispatch(self, job: Job) -> None:
        text = dump_model(job)  # outside the lock: the copy is the costly part
        with self._lock:
            if self._closed:
                raise BackendError("the invoker is closed")
            if job.id in self._ids:
                return
            self._ids.add(job.id)
            self._jobs.append(text)
        if self._on_dispatch is not None:
            self._on_dispatch(job)

    def stop(self, job_id: str) -> None:
        with self._lock:
            if job_id in self._ids and job_id not in self._stopped:
                self._stopped.append(job_id)

    def close(self) -> None:
        with self._lock:
            self._closed = True
