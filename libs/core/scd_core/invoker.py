"""The ``Invoker`` Protocol: how the trigger hands a job to a worker.

Backends: ``scd_core.invokers.memory.MemoryInvoker`` (records jobs, for tests);
``local`` (a durable SQLite queue and worker processes), ``fc`` (Function Compute
async invocation) and ``redis`` (a Redis Stream read by ``scd worker`` processes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from scd_core.models import Job

__all__ = ["Invoker", "dispatch_many"]


@runtime_checkable
class Invoker(Protocol):
    """Asynchronous delivery of jobs to workers, with Function Compute's semantics.

    **Call order.** Open a backend (``scd_core.invokers.open_invoker``), then
    ``dispatch`` and ``stop`` from any thread, ``close()`` once at the end; after
    ``close()`` ``dispatch`` raises ``BackendError``.

    **Idempotency.** ``dispatch`` is keyed by ``job.id`` (which equals the run id,
    FC's ``x-fc-async-task-id``): a job id already dispatched is a no-op, even when
    the earlier job has finished, so a retried webhook can never start a run twice.
    ``stop`` of an unknown, finished or already stopped job is a no-op.

    **Concurrency.** All methods are thread-safe and return quickly: ``dispatch``
    only enqueues durably (the trigger answers the webhook right after it), it never
    waits for the job to run. Delivery is at least once; the worker's lease on the
    run makes execution at most once at a time.

    **Errors.** A failure to enqueue raises ``BackendError`` with the cause chained;
    a job's own failure is never raised here (it is recorded on its run).
    """

    def dispatch(self, job: Job) -> None:
        """Enqueue ``job`` for a worker unless ``job.id`` was dispatched before."""
        ...

    def stop(self, job_id: str) -> None:
        """Stop the job if queued (it never starts) or running (it is cancelled)."""
        ...

    def close(self) -> None:
        """Release resources; idempotent. Queued jobs of durable backends survive."""
        ...


def dispatch_many(invoker: Invoker, jobs: Sequence[Job]) -> list[Exception | None]:
    """``invoker.dispatch`` of each job, in order: for each, None or what it raised.

    A backend with a ``dispatch_many(jobs)`` method enqueues them all in one write
    (the local queue: one transaction); a failure of that write is every job's
    failure, and none of them is enqueued. Others get one ``dispatch`` per job.
    """
    batch = getattr(invoker, "dispatch_many", None)
    if batch is not None:
        try:
            batch(jobs)
        except Exception as exc:
            return [exc] * len(jobs)
        return [None] * len(jobs)
    failures: list[Exception | None] = []
    for job in jobs:
        try:
            invoker.dispatch(job)
        except Exception as exc:
            failures.append(exc)
        else:
            failures.append(None)
    return failures
