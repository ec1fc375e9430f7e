"""``scd worker --redis URL``: a worker process consuming jobs from a Redis Stream.

Run any number of them, on any machines that reach Redis, the run store and the
log sink (``SCD_STORE``, ``SCD_LOG_SINK``, ``SCD_DATA_DIR``, ``SCD_CONFIG`` as for
the worker function). Each runs up to ``--concurrency`` jobs at once, in threads,
with the worker function's own code (``functions.worker.app.WorkerState``).

:class:`JobHandler` decides what a delivery means. A job marked stopped is never
run (its run ends ``cancelled`` if still queued). A job taken over from a worker
that died mid-task (``delivery.count`` > 1, its task still ``running``) has its
task ended ``error`` "worker lost" through the lifecycle once the dead worker's
lease in the store has expired (``reap``; until then the entry stays pending and
comes back later); then, if the app's ``retry`` allows it for ``worker-lost``,
its next attempt is recorded and queued as a new run, ``rerun_of`` the lost one
(``functions.worker.lost.retry_lost_run``, exactly once). A job given up by the stream (too many
deliveries) ends its run ``error``. SIGTERM or SIGINT: stop taking jobs, let the
running ones finish for ``--grace`` seconds, then interrupt them (they end
``error`` "worker interrupted") and exit 0.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from scd_core.invokers.redisworker import Delivery
    from scd_core.models import Job, Run

    from functions.worker.app import WorkerState

__all__ = ["JobHandler", "main", "register", "run_worker"]

log = logging.getLogger("scd.worker")
_HELD = "run is being run by another worker"


class JobHandler:
    """What a worker does with each delivery (see the module docstring); thread-safe."""

    def __init__(self, state: WorkerState, dispatch: Callable[[Job], None]) -> None:
        self.state = state
        self.dispatch = dispatch  # queues a retry's job

    def handle(self, job: Job, delivery: Delivery) -> bool:
        """Run or settle ``job``; whether its entry is done (False: deliver it again)."""
        from scd_core.errors import NotFound
        from scd_core.lifecycle_records import task_of
        from scd_core.models import FINAL_STATUSES

        env = self.state.env()
        if delivery.stopped:
            env.store.request_control(job.run, "cancel")
            env.lifecycle.cancel_queued(job.run)
            return True
        if delivery.count == 1:  # the claim skips a final or unknown run itself
            return self._execute(job, delivery)
        try:
            run = env.store.get_run(job.run)
        except NotFound:
            log.warning("job %s names no run in the store; dropped", job.id)
            return True
        if run.status in FINAL_STATUSES:
            self._maybe_retry(job, run)  # a reaper may have ended it "worker lost"
            return True
        if delivery.count > 1 and task_of(run, job.task).status == "running":
            # Its worker died mid-task: end the task "worker lost" once the dead
            # worker's lease has run out (until then, come back later).
            env.lifecycle.reap(run, env.lease_ttl_s, env.sink)
            now = env.store.get_run(job.run)
            if task_of(now, job.task).status not in FINAL_STATUSES:
                return False
            self._maybe_retry(job, now)
            return True
        return self._execute(job, delivery)

    def _execute(self, job: Job, delivery: Delivery) -> bool:
        answer = self.state.execute(job, uuid.uuid4().hex)
        # Held by a live worker on a later delivery: the dead one's lease has not run
        # out yet; come back. On a first delivery it is a duplicate: done.
        return not (answer.get("skipped") == _HELD and delivery.count > 1)

    def dead(self, job_id: str, payload: str, count: int) -> None:
        """End the run of a job the stream gave up on ``error``."""
        from scd_core.models import Job

        job = Job.model_validate_json(payload)
        env = self.state.env()
        message = f"worker lost: delivered {count} times without finishing"
        env.lifecycle.abort(job.run, message, task=job.task, sink=env.sink)

    def control(self, job_id: str) -> None:
        """Cancel the running job ``job_id`` (or the run of that id) now."""
        active = list(self.state.active.values())  # a copy: jobs start and end meanwhile
        running = [e for e in active if job_id in (e.job.id, e.run_id)]
        for execution in running:
            log.info("run %s: cancel received on the control channel", execution.run_id)
            execution.cancel.set()

    def _maybe_retry(self, job: Job, run: Run) -> None:
        """Queue the next attempt of a run ended "worker lost" if its app allows it."""
        from scd_core.errors import ScdError
        from scd_core.lifecycle import LOST_MESSAGE

        from functions.worker.lost import retry_lost_run

        if run.status != "error" or not (run.message or "").startswith(LOST_MESSAGE):
            return
        try:
            app = self.state.load_app(run.app)
        except ScdError:
            return
        if app is not None and app.retry.allows("worker-lost", run.attempt):
            env = self.state.env()
            retry_lost_run(env.store, run, job, self.dispatch, env.lifecycle)


def run_worker(
    url: str,
    *,
    concurrency: int = 1,
    lease_s: float = 60.0,
    max_deliveries: int = 5,
    grace_s: float = 10.0,
) -> int:
    """Consume ``url``'s stream until SIGTERM/SIGINT; see the module docstring."""
    from scd_core.errors import ConfigError
    from scd_core.invokers.redisstream import RedisInvoker, parse_redis_url
    from scd_core.invokers.redisworker import RedisConsumer
    from scd_core.settings import Settings

    from functions.worker.app import WorkerState

    base, stream = parse_redis_url(url)
    settings = Settings.from_env()
    if lease_s <= settings.lease_ttl_seconds:
        # A dead worker's job must outlive its store lease, or it is taken over (and
        # counted towards the dead-letter limit) while the store still says it runs.
        raise ConfigError(
            f"--lease ({lease_s:g} s) must be longer than SCD_LEASE_TTL_SECONDS "
            f"({settings.lease_ttl_seconds:g} s)"
        )
    state = WorkerState(settings)
    state.warm()
    invoker = RedisInvoker(url)
    handler = JobHandler(state, invoker.dispatch)
    consumer = RedisConsumer(
        base,
        stream,
        handler.handle,
        concurrency=concurrency,
        lease_s=lease_s,
        max_deliveries=max_deliveries,
        on_dead=handler.dead,
        on_control=handler.control,
    )

    def interrupt_later() -> None:
        if not done.wait(grace_s):
            state.pre_stop()

    done = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        if not consumer_stopping.is_set():
            consumer_stopping.set()
            consumer.stop()
            threading.Thread(target=interrupt_later, daemon=True).start()

    consumer_stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    log.warning("scd worker %s: consuming %s with %d thread(s)", consumer.name, stream, concurrency)
    try:
        consumer.run()
    finally:
        done.set()
        invoker.close()
        state.close()
    return 0


def worker_command(
    redis: Annotated[
        str,
        typer.Option("--redis", envvar="SCD_INVOKER", help="redis://HOST:PORT/DB[?stream=NAME]"),
    ],
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-n", min=1, help="Jobs run at once.")
    ] = 1,
    lease: Annotated[
        float,
        typer.Option("--lease", min=1, help="Seconds a dead worker's job waits to be taken over."),
    ] = 60.0,
    max_deliveries: Annotated[
        int, typer.Option("--max-deliveries", min=1, help="Deliveries before dead-lettering.")
    ] = 5,
    grace: Annotated[
        float, typer.Option("--grace", min=0, help="Seconds running jobs get on SIGTERM.")
    ] = 10.0,
) -> None:
    """Run jobs from a Redis Stream (workers on many machines; see scd serve --redis)."""
    from scd_core.errors import ScdError

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    try:
        code = run_worker(
            redis,
            concurrency=concurrency,
            lease_s=lease,
            max_deliveries=max_deliveries,
            grace_s=grace,
        )
    except ScdError as exc:
        typer.echo(f"scd worker: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``worker`` to ``app``."""
    app.command("worker")(worker_command)


def main() -> None:
    """``python -m functions.commands.worker --redis URL ...`` (what ``scd serve`` spawns)."""
    built = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    built.command()(worker_command)
    built(sys.argv[1:])


if __name__ == "__main__":
    main()
