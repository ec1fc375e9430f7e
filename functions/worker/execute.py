"""One job, from claim to final status: hops 4 and 5 of the design.

Contract: :meth:`Execution.run` is blocking (call it in a worker thread) and
returns an :class:`Outcome` for every user outcome, a failing step, an invalid
spec or a failed checkout included; it raises only when the worker itself broke,
after ending the task ``error`` with a short message. Every status change of the
run and its task goes through the environment's :class:`Lifecycle`: the claim
takes the lease ``task:<run>:<task>`` and moves the task (and the run) to
``running`` in one conditional update; a run or task already final, or leased by
another live worker, is skipped (FC delivers at least once). The event, its
inputs and the checkout's fallback come from the run in the store, never from the
job. While the job runs a :class:`Heartbeat` renews the lease and turns a cancel
request into the Runner's cancel event. Every StepState change is ``put_step`` to
the store and every output line goes through the run's masker into the sink.

If the lease is lost (the reaper judged us dead) or :meth:`Execution.interrupt`
was called (pre-stop), the job stops and the ending is not this thread's to
write, except that an interrupt ends the task ``error`` "worker interrupted".
"""

from __future__ import annotations

import logging
import shutil
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scd_core.billing import FcSize, fc_size
from scd_core.errors import ConfigError, ScdError
from scd_core.lifecycle import Fan, FanIn, Lifecycle
from scd_core.lifecycle_keys import log_key
from scd_core.logs import LogWriter
from scd_core.logsink import LogSink
from scd_core.masking import Masker
from scd_core.models import DEFAULT_TASK, Job, Run, Status, StepState, TaskState, utcnow
from scd_core.store import RunStore

from functions.worker.checkout import credential_values
from functions.worker.dag import fan_for, instance_job, is_dag, plan_task_of
from functions.worker.heartbeat import Heartbeat
from functions.worker.secrets import (
    FORK_NOTE,
    checkout_token,
    platform_env,
    resolve_secrets,
    unresolved_secrets,
    withholds_secrets,
)
from functions.worker.setup import (
    SETUP_INDEX,
    SETUP_KEY,
    Checkout,
    SetupFailed,
    prepare,
    target_of,
)

if TYPE_CHECKING:
    from scd_engine.plan import Plan, PlanTask
    from scd_engine.runtime import Runner
    from scd_engine.runtime.sandbox import Sandbox
    from scd_engine.spec import Pipeline
    from scd_trigger_spec import App

__all__ = ["INTERRUPTED", "Execution", "Outcome", "WorkerEnv"]

INTERRUPTED = "worker interrupted"
_log = logging.getLogger("scd.worker")


@dataclass(frozen=True)
class WorkerEnv:
    """What a job needs from the worker instance."""

    store: RunStore
    sink: LogSink
    data_dir: Path
    lease_ttl_s: float
    grace_s: float
    load_app: Callable[[str], App | None]  # the App named, or None; may raise ConfigError
    environ: Mapping[str, str]
    lifecycle: Lifecycle
    sandbox: Sandbox | None = None  # confines steps to their workspace (data_dir hidden)
    # hands the next task instances of a DAG to the invoker; None: this worker cannot
    dispatch: Callable[[list[Job]], None] | None = None


@dataclass(frozen=True)
class Outcome:
    """What ``/invoke`` answers: the run's final status, or why it was skipped."""

    run_id: str
    status: str | None = None
    skipped: str | None = None

    def answer(self) -> dict[str, str]:
        if self.skipped is not None:
            return {"run_id": self.run_id, "skipped": self.skipped}
        return {"run_id": self.run_id, "status": self.status or "error"}


class Execution:
    """Runs one job once; see the module docstring."""

    def __init__(self, env: WorkerEnv, job: Job, owner: str) -> None:
        self.env = env
        self.job = job
        self.owner = owner
        self.cancel = threading.Event()
        self.done = threading.Event()
        self.interrupted = threading.Event()
        self.masker = Masker()
        self.withheld = False  # a fork's run: no secrets, no sts, no platform credentials
        self.record: Run | None = None  # the run as claimed
        self._runner: Runner | None = None
        self._fan: Fan | None = None  # a DAG's task: what its ending decides next
        self._outputs: dict[str, str] | None = None
        self._fanned: FanIn | None = None  # a DAG's first job: what it fanned out
        self._sha = ""

    @property
    def run_id(self) -> str:
        return self.job.run

    @property
    def task(self) -> str:
        return self.job.task

    def run(self) -> Outcome:
        """Claim, set up, run and record the job; see the module docstring."""
        try:
            skipped = self._claim()
            if skipped is not None:
                return Outcome(self.run_id, skipped=skipped)
            return self._guarded()
        finally:
            self.done.set()

    def interrupt(self, wait_s: float) -> None:
        """Stop the job now (the instance is going away) and end the run ``error``."""
        self.interrupted.set()
        self._kill()
        if not self.done.wait(wait_s):
            # The job thread is stuck: write the ending ourselves and let the lease go.
            self._end_interrupted()

    # -- claim -----------------------------------------------------------------

    def _claim(self) -> str | None:
        job = self.job
        claim = self.env.lifecycle.claim(
            self.run_id,
            self.task,
            owner=self.owner,
            ttl_s=self.env.lease_ttl_s,
            attempt=job.attempt,
            region=job.region,
            size=self._size(),
        )
        if claim.run is None:
            return claim.skipped
        self.record = claim.run
        if self.env.store.get_control(self.run_id) == "cancel":
            self.cancel.set()
        return None

    def _size(self) -> FcSize | None:
        """The FC instance size for the task's cost; a malformed one costs nothing
        rather than failing the run (the set-up log has no reader yet here)."""
        try:
            return fc_size(self.env.environ)
        except ConfigError:
            return None

    # -- the run -------------------------------------------------------------------

    def _guarded(self) -> Outcome:
        heartbeat = Heartbeat(
            self.env.store,
            self.run_id,
            self.owner,
            self.env.lease_ttl_s,
            self.cancel,
            task=self.task,
        )
        heartbeat.start()
        workspace = self._workspace()
        try:
            status, message = self._work(workspace)
        except BaseException as exc:
            if self.interrupted.is_set():
                return Outcome(self.run_id, status=self._end_interrupted())
            self._crashed(exc)
            raise
        finally:
            heartbeat.stop()
            shutil.rmtree(workspace, ignore_errors=True)
        return Outcome(self.run_id, status=self._finish(status, message, heartbeat))

    def _work(self, workspace: Path) -> tuple[Status, str | None]:
        env, job, run = self.env, self.job, self._record()
        if self.cancel.is_set():  # cancelled while queued: nothing to set up
            return "cancelled", None
        setup = StepState(id=SETUP_KEY, task=self.task, name="Set up", index=SETUP_INDEX)
        setup.status, setup.started_at = "running", utcnow()
        env.store.put_step(self.run_id, setup)
        key = log_key(self.task, SETUP_KEY)
        writer = LogWriter(env.sink, self.run_id, key, masker=self.masker)
        try:
            if job.app != run.app:
                writer.line(f"error: the job names app {job.app!r}, its run is of {run.app!r}")
                raise SetupFailed("the job does not match its run")
            try:
                app = env.load_app(run.app)
            except ScdError as exc:
                writer.line(f"error: {exc}")
                raise SetupFailed(f"cannot load the app's config: {exc}") from exc
            for name in unresolved_secrets(app):
                writer.line(f"warning: secret {name} is not set where the worker runs")
            secrets = resolve_secrets(app, env.environ)
            self.withheld = withholds_secrets(run, app)
            if self.withheld:
                writer.line(FORK_NOTE)
                secrets = {}
            token = checkout_token(app, env.environ)
            target = target_of(run, app)
            for value in (*secrets.values(), *credential_values(token, target.clone_url or "")):
                self.masker.add(value)
            shutil.rmtree(workspace, ignore_errors=True)  # left by an earlier attempt
            where = Checkout(workspace, env.data_dir / "cache", token)
            pipeline, sha = prepare(target, where, writer, self.cancel)
            plan = self._plan(pipeline, writer)
        except SetupFailed as exc:
            cancelled = self.cancel.is_set()
            self._conclude(setup, writer, "cancelled" if cancelled else "error", str(exc))
            return ("cancelled", None) if cancelled else ("error", str(exc))
        self._conclude(setup, writer, "success", None)
        if not run.event.commit:
            env.lifecycle.record_commit(self.run_id, sha)
        if self.cancel.is_set():
            return "cancelled", None
        extra_env = {} if self.withheld else platform_env(app, env.environ)
        return self._engine(workspace, plan, secrets, extra_env, sha)

    def _plan(self, pipeline: Pipeline, writer: LogWriter) -> Plan:
        """The pipeline's plan; ``SetupFailed`` (said in the set-up log) when it has no
        task for this job."""
        from scd_engine.plan import compile_plan

        plan = compile_plan(pipeline)  # loaded, so linted: raises nothing
        if is_dag(plan) and self.task == DEFAULT_TASK:
            return plan  # the first job of a DAG: it fans the plan out
        try:
            self._task_of(plan)
        except LookupError as exc:
            writer.line(f"error: {exc}")
            raise SetupFailed(str(exc)) from exc
        return plan

    def _engine(
        self,
        workspace: Path,
        plan: Plan,
        secrets: dict[str, str],
        extra_env: dict[str, str],
        sha: str,
    ) -> tuple[Status, str | None]:
        # imported on first job: keeps start-up light
        from scd_engine.plan.progress import need_results
        from scd_engine.runtime import Runner, RunnerOptions

        env, job, event = self.env, self.job, self._record().event
        self._sha = sha
        if is_dag(plan) and self.task == DEFAULT_TASK:
            self._fan = fan_for(plan, self._record())
            self._fanned = env.lifecycle.fan_out(self.run_id, DEFAULT_TASK, self._fan)
            return "success", None
        try:
            task, state = self._task_of(plan)
        except LookupError as exc:
            return "error", str(exc)
        if is_dag(plan):
            self._fan = fan_for(plan, self._record())
        options = RunnerOptions(
            workspace,
            sink=env.sink,
            run_id=self.run_id,
            event=event.model_copy(update={"commit": event.commit or sha}),
            secrets=secrets,
            inputs=event.inputs,
            env=extra_env,
            cancel=self.cancel,
            observers=[lambda state: env.store.put_step(self.run_id, state)],
            grace=env.grace_s,
            cache_dir=env.data_dir / "cache",
            app={"name": job.app, "pipeline": job.pipeline},
            masker=self.masker,
            sandbox=env.sandbox,
            hidden=(env.data_dir,),
            environ={} if self.withheld else None,  # no sts for a fork's pull request
            instance=self.task,
            matrix=dict(state.matrix),
            needs=need_results(task, self._record().tasks),
        )
        runner = Runner(options)
        self._runner = runner
        if self.interrupted.is_set():
            runner.kill()
        result = runner.run(task)
        self._outputs = result.outputs
        return result.status, None

    def _task_of(self, plan: Plan) -> tuple[PlanTask, TaskState]:
        """The plan task this job runs and its recorded state; ``LookupError`` if none."""
        if not is_dag(plan):
            if self.task != DEFAULT_TASK:
                raise LookupError(f"the pipeline has no task {self.task!r}")
            return plan.task(DEFAULT_TASK), TaskState()
        return plan_task_of(plan, self._record(), self.task)

    def _conclude(
        self, state: StepState, writer: LogWriter, status: Status, message: str | None
    ) -> None:
        writer.close()
        self.env.lifecycle.end_step(self.run_id, state, status, message)

    def _workspace(self) -> Path:
        """Where the task's code is checked out: its own directory, so tasks of one
        run may share an instance; ``work/<run>`` for the task ``default``."""
        name = self.run_id
        if self.task != DEFAULT_TASK:  # the log key's encoding: a safe, distinct name
            name = f"{self.run_id}.{log_key(self.task, 'work')}"
        return self.env.data_dir / "work" / name

    def _record(self) -> Run:
        if self.record is None:  # _claim sets it before anything else runs
            raise RuntimeError("the job was not claimed")
        return self.record

    # -- endings ---------------------------------------------------------------

    def _finish(self, status: Status, message: str | None, heartbeat: Heartbeat) -> str:
        lifecycle = self.env.lifecycle
        if self.interrupted.is_set():
            return self._end_interrupted()
        if heartbeat.lost.is_set():
            # The reaper (or a new attempt) owns the task now; its record stands.
            return self.env.store.get_run(self.run_id).status
        if self._fanned is not None:  # a DAG's first job: its tasks carry the run on
            lifecycle.release(self.run_id, self.task, self.owner)
            self._dispatch(self._fanned.ready)
            return self.env.store.get_run(self.run_id).status
        # a cancelled run decides no more tasks: it ends once those recorded are final
        fan = None if self.cancel.is_set() else self._fan
        fan_in = lifecycle.end_and_fan(
            self.run_id, self.task, status, message, fan=fan, outputs=self._outputs
        )
        lifecycle.release(self.run_id, self.task, self.owner)
        self._dispatch(fan_in.ready)
        ended = fan_in.run
        return ended.status if ended is not None else self.env.store.get_run(self.run_id).status

    def _dispatch(self, ready: list[TaskState]) -> None:
        """Hand each task instance made ready to the invoker; one that cannot be
        handed over ends ``error`` (its dependants are then decided)."""
        if not ready:
            return
        jobs = [instance_job(self.job, self.run_id, state.id, self._sha) for state in ready]
        try:
            if self.env.dispatch is None:
                raise ScdError("this worker has no invoker to dispatch the next tasks with")
            self.env.dispatch(jobs)
        except ScdError as exc:
            _log.error("run %s: could not dispatch %d task(s): %s", self.run_id, len(jobs), exc)
            for state in ready:
                self.env.lifecycle.end_and_fan(
                    self.run_id, state.id, "error", f"not dispatched: {exc}", fan=self._fan
                )

    def _end_interrupted(self) -> str:
        lifecycle = self.env.lifecycle
        lifecycle.abort(self.run_id, INTERRUPTED, task=self.task, sink=self.env.sink)
        lifecycle.release(self.run_id, self.task, self.owner)
        return self.env.store.get_run(self.run_id).status

    def _crashed(self, exc: BaseException) -> None:
        text = self.masker.mask("".join(traceback.format_exception(exc)))
        _log.error("run %s: worker crashed\n%s", self.run_id, text)
        message = f"worker crashed: {type(exc).__name__}"
        try:
            self.env.lifecycle.abort(self.run_id, message, task=self.task, sink=self.env.sink)
            self.env.lifecycle.release(self.run_id, self.task, self.owner)
        except ScdError as store_exc:  # the store itself may be what broke
            _log.error("run %s: could not record the crash: %s", self.run_id, store_exc)

    def _kill(self) -> None:
        self.cancel.set()
        if self._runner is not None:
            self._runner.kill()
