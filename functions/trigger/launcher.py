"""Recording an accepted event as a run and handing it to the invoker (hops 2 and 3).

Contract: ``Launcher.launch(app, accepted)`` is blocking (store and invoker
I/O); on the event loop use ``await launch_async(...)``, which runs it on the
launcher's own thread. It creates the run if no run has the accepted dedup key
yet and then dispatches exactly one job with ``job.id == run.id``; for a
duplicate it returns the existing run and dispatches nothing. A job is
dispatched only after its run is committed. Run ids are 32 hex digits, ordered
by creation time (48-bit milliseconds then 80 random bits, like UUIDv7).

Group commit: the launcher's one thread takes every launch waiting for it and
records their runs in one store write (``scd_core.store.create_runs``; SQLite:
one transaction), dispatches the new ones in one invoker write
(``scd_core.invoker.dispatch_many``; the local queue: one transaction) and
answers all the waiting coroutines with one wake-up of their event loop. The
runs created are announced (``run.queued``) through the launcher's ``lifecycle``
after the store write and before the dispatch, only if someone listens. Under load that turns N
commits and N thread hand-offs into one of each; a lone launch waits for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING

from scd_core.errors import ScdError
from scd_core.invoker import Invoker, dispatch_many
from scd_core.models import Job, Run
from scd_core.store import RunStore, create_runs
from scd_trigger_spec import Accepted, App
from scd_trigger_spec.routing import WorkerRule, route

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scd_core.lifecycle import Lifecycle

__all__ = ["Launched", "Launcher", "job_for", "new_run_id", "new_run_ids"]


def new_run_id() -> str:
    """A fresh run id: sortable by creation time, unique without coordination."""
    return new_run_ids(1)[0]


def new_run_ids(count: int) -> list[str]:
    """``count`` fresh run ids, from one read of the system's random source."""
    millis = f"{time.time_ns() // 1_000_000:012x}"
    noise = os.urandom(10 * count).hex()
    return [millis + noise[20 * i : 20 * i + 20] for i in range(count)]


@dataclass(frozen=True)
class Launched:
    """The run an accepted event maps to, and whether this call created it."""

    run: Run
    created: bool


Outcome = Launched | BaseException
_Waiter = tuple[App, Run, asyncio.AbstractEventLoop, "asyncio.Future[Launched]"]


class Launcher:
    """Records runs in ``store`` and dispatches new ones through ``invoker``; each job
    goes to the worker ``route`` chooses with scd.yaml's ``workers`` rules."""

    def __init__(
        self,
        store: RunStore,
        invoker: Invoker,
        lifecycle: Lifecycle | None = None,
        *,
        workers: Sequence[WorkerRule] = (),
    ) -> None:
        self.store = store
        self.invoker = invoker
        self.workers = tuple(workers)
        self._lifecycle = lifecycle
        self._queue: SimpleQueue[_Waiter | None] = SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def lifecycle(self) -> Lifecycle:
        """The lifecycle runs are announced through (made on first use: not on a cold start)."""
        if self._lifecycle is None:
            from scd_core.lifecycle import Lifecycle

            self._lifecycle = Lifecycle(self.store)
        return self._lifecycle

    def job_for(self, app: App, run: Run) -> Job:
        """``job_for(app, run, self.workers)``: the job, routed by this launcher's rules."""
        return job_for(app, run, self.workers)

    async def launch_async(self, app: App, accepted: Accepted) -> Launched:
        """``launch`` on the launcher's thread, awaited from the event loop.

        The run is built here, so that the launcher's thread runs little Python
        (every bit it runs waits for the event loop to hand over the GIL). The
        launch goes on if the awaiting task is cancelled: the run is recorded
        (and dispatched) all the same, as a retried delivery would find it.
        """
        run = _new_run(new_run_id(), app, accepted)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Launched] = loop.create_future()
        with self._lock:  # so close() cannot slip between the check and the put
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="scd-launcher", daemon=True
                )
                self._thread.start()
            self._queue.put((app, run, loop, future))
        return await future

    def close(self) -> None:
        """Stop the launcher's thread after the launches already submitted."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join()

    def launch(self, app: App, accepted: Accepted) -> Launched:
        """Create-if-absent the run for ``accepted``; dispatch it only if created."""
        outcome = self.launch_many([(app, accepted)])[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def launch_many(self, launches: list[tuple[App, Accepted]]) -> list[Outcome]:
        """``launch`` of each, runs recorded in one store write; outcomes in order.

        Each outcome is the ``Launched`` or the exception ``launch`` would raise.
        """
        ids = new_run_ids(len(launches))
        runs = [
            (app, _new_run(run_id, app, accepted))
            for run_id, (app, accepted) in zip(ids, launches, strict=True)
        ]
        return self._record(runs)

    def _record(self, runs: list[tuple[App, Run]]) -> list[Outcome]:
        """Create-if-absent each run in one store write, then dispatch the new ones."""
        try:
            answers = create_runs(self.store, [run for _, run in runs])
        except Exception as exc:  # the write as a whole failed: every launch did
            return [exc] * len(runs)
        outcomes: list[Outcome] = []
        jobs: list[tuple[int, Job]] = []  # each new run's job, and its outcome's place
        for (app, _), answer in zip(runs, answers, strict=True):
            if isinstance(answer, ScdError):
                outcomes.append(answer)
                continue
            stored, created = answer
            if created and stored.event.fork and app.forks.approve:
                from functions.trigger.approvals import hold_if_needed

                held = hold_if_needed(self.lifecycle, app, stored)
                if held is not None:  # a fork's run waits for a person: no job yet
                    outcomes.append(Launched(held, created))
                    continue
            if created:
                jobs.append((len(outcomes), self.job_for(app, stored)))
            outcomes.append(Launched(stored, created))
        lifecycle = self._lifecycle
        if jobs and lifecycle is not None and lifecycle.listeners:  # nobody listens: no work
            new = [out.run for out in outcomes if isinstance(out, Launched) and out.created]
            lifecycle.queued(new)
        failures = dispatch_many(self.invoker, [job for _, job in jobs])
        for (place, _), failure in zip(jobs, failures, strict=True):
            if failure is not None:
                outcomes[place] = failure
        return outcomes

    def _serve(self) -> None:
        """The launcher's thread: take all waiting launches, do them, answer them."""
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except Empty:
                    break
            waiters = [item for item in batch if item is not None]
            if waiters:
                runs = [(app, run) for app, run, _, _ in waiters]
                try:
                    outcomes = self._record(runs)
                except BaseException as exc:  # this thread must answer every waiter
                    outcomes = [exc] * len(waiters)
                _answer(waiters, outcomes)
            if len(waiters) < len(batch):  # close() asked us to stop
                return


def _new_run(run_id: str, app: App, accepted: Accepted) -> Run:
    return Run(
        id=run_id,
        app=app.name,
        dedup_key=accepted.dedup_key,
        event=accepted.event,
        pipeline=app.pipeline,
    )


def job_for(app: App, run: Run, workers: Sequence[WorkerRule] = ()) -> Job:
    """The job that runs ``run`` of ``app``, in the region (and worker function) that
    ``route(app, workers)`` chooses; None for each: the trigger's own.

    The clone URL is the app's repository, never the event's: a payload names
    its repository, but only the app's configuration says what may be cloned
    and run. Pull request heads are fetched from the app's repository by ref.
    The job carries no event: the worker reads it from the store's run. A
    pipeline of top-level ``steps:`` is one task, ``default``, whose job id is
    the run id.
    """
    event = run.event
    target = route(app, workers)
    return Job(
        id=run.id,
        app=app.name,
        clone_url=app.repo,
        ref=event.ref,
        commit=event.commit,
        pipeline=run.pipeline,
        region=None if target is None else target.region,
        function=None if target is None else target.function,
    )


def _answer(waiters: list[_Waiter], outcomes: list[Outcome]) -> None:
    """Settle each waiter's future on its own loop, one wake-up per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Launched], Outcome]]]
    by_loop = {}
    for (_, _, loop, future), outcome in zip(waiters, outcomes, strict=True):
        by_loop.setdefault(loop, []).append((future, outcome))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[asyncio.Future[Launched], Outcome]]) -> None:
    for future, outcome in settled:
        if future.done():  # the awaiting task was cancelled
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
