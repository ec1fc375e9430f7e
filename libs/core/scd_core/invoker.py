"""The ``Invoker`` Protocol: how the trigger hands a job to a worker.

Backends: ``scd_core.invokers.memory.MemoryInvoker`` (records jobs, for tests);
``local`` (a durable SQLite queue and worker processes), ``fc`` (Function Compute
async invocation) and ``redis`` (Streams) come later.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from scd_core.models import Job

__all__ = ["Invoker"]


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
