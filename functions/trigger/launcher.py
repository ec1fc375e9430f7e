"""Recording an accepted event as a run and handing it to the invoker (hops 2 and 3).

Contract: ``Launcher.launch(app, accepted)`` is blocking (store and invoker
I/O); on the event loop use ``await launch_async(...)``, which runs it on the
launcher's own thread (one thread: the store serialises writes anyway, and a
single thread avoids waking a pool of them per request). It creates the run
if no run has the accepted dedup key yet and then dispatches exactly one job
with ``job.id == run.id``; for a duplicate it returns the existing run and
dispatches nothing. Run ids are 32 hex digits, ordered by creation time
(48-bit milliseconds then 80 random bits, like UUIDv7).
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from scd_core.invoker import Invoker
from scd_core.models import Job, Run
from scd_core.store import RunStore
from scd_trigger_spec import Accepted, App

__all__ = ["Launched", "Launcher", "new_run_id"]


def new_run_id() -> str:
    """A fresh run id: sortable by creation time, unique without coordination."""
    millis = time.time_ns() // 1_000_000
    return f"{millis:012x}{os.urandom(10).hex()}"


@dataclass(frozen=True)
class Launched:
    """The run an accepted event maps to, and whether this call created it."""

    run: Run
    created: bool


class Launcher:
    """Records runs in ``store`` and dispatches new ones through ``invoker``."""

    def __init__(self, store: RunStore, invoker: Invoker) -> None:
        self.store = store
        self.invoker = invoker
        self._thread: ThreadPoolExecutor | None = None

    async def launch_async(self, app: App, accepted: Accepted) -> Launched:
        """``launch`` on the launcher's thread, awaited from the event loop."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="scd-launcher")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self.launch, app, accepted)

    def close(self) -> None:
        """Stop the launcher's thread after the launches already submitted."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=True)

    def launch(self, app: App, accepted: Accepted) -> Launched:
        """Create-if-absent the run for ``accepted``; dispatch it only if created."""
        event = accepted.event
        run = Run(
            id=new_run_id(),
            app=app.name,
            dedup_key=accepted.dedup_key,
            event=event,
            pipeline=app.pipeline,
        )
        stored, created = self.store.create_run(run)
        if created:
            self.invoker.dispatch(
                Job(
                    id=stored.id,
                    app=app.name,
                    event=event,
                    clone_url=event.clone_url or app.repo,
                    ref=event.ref,
                    commit=event.commit,
                    pipeline=app.pipeline,
                )
            )
        return Launched(stored, created)
