"""Run one task of a plan on this machine: the engine the worker and ``scd run`` share.

Contract: ``Runner(options).run(task)`` executes the
:class:`~scd_engine.plan.PlanTask`'s steps in order and returns a
:class:`RunResult`; a failing step is a result, not an exception (exceptions
mean the system failed: a sink or the disk). Every StepState change goes to
each of ``options.observers`` (from the calling thread; one that raises is
logged and the others still hear, see
:class:`~scd_engine.runtime.observers.Observers`), every output line through
the masker into ``options.sink`` under the step's key. ``cancel`` may be set
from any thread: the running step gets SIGTERM, ``grace`` seconds, then
SIGKILL; the remaining steps are ``cancelled`` except those whose ``if`` uses
``always()`` or ``cancelled()``. :meth:`Runner.kill` stops at once. A Runner
runs one task once.

Statuses: a step that failed under ``continue-on-error`` is recorded with
status ``failure``, outcome ``failure`` and conclusion ``success`` (its
``steps.<id>.status`` context is serverless-cd's ``error-with-continue``); the
run succeeds. The run is ``cancelled`` when cancel was asked, else ``failure``
when a step's conclusion is failure, else ``success``.

Modules: the runner builds a :class:`~scd_engine.runtime.session.Session` and
a :class:`~scd_engine.runtime.stepping.StepDriver`; the driver knows the
session, never the runner, so the imports go one way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from scd_core.lifecycle_keys import log_key
from scd_core.logs import LogWriter
from scd_core.masking import Masker
from scd_core.models import Status, StepState, utcnow

from scd_engine.expressions import ExpressionError, render
from scd_engine.plan.model import PlanTask
from scd_engine.runtime.contexts import base_contexts
from scd_engine.runtime.environment import process_base_env
from scd_engine.runtime.kinds import Finished, Scope, run_hook
from scd_engine.runtime.observers import Observers
from scd_engine.runtime.options import Observer, RunnerOptions
from scd_engine.runtime.process import kill_group
from scd_engine.runtime.session import Session
from scd_engine.runtime.stepping import StepDriver

__all__ = ["RunResult", "Runner"]


@dataclass
class RunResult:
    """The end of a run: its status and every step's final state."""

    status: Status
    steps: list[StepState]
    outputs: dict[str, str] = field(default_factory=dict)


class Runner:
    """Runs one plan task in ``options.workspace``; see the module docstring."""

    def __init__(self, options: RunnerOptions) -> None:
        """Set up one run from ``options`` (nothing starts until :meth:`run`)."""
        self.options = options
        self.workspace = Path(options.workspace).resolve()
        self.run_id = options.run_id
        self.cancel = options.cancel if options.cancel is not None else threading.Event()
        self.masker = options.masker if options.masker is not None else Masker()
        self.secrets = dict(options.secrets)
        for value in self.secrets.values():
            self.masker.add(value)
        self.observers = Observers(options.observers)
        self._kill = threading.Event()
        self._session: Session | None = None
        self._cache_dir = options.cache_dir or Path(tempfile.gettempdir()) / "scd-cache"
        self._tmp_root = options.tmp_root or _private_tmp_root()

    def observe(self, observer: Observer) -> None:
        """Add an observer (before :meth:`run`): it hears every StepState change."""
        self.observers.add(observer)

    def kill(self) -> None:
        """Stop now: SIGKILL the running step, cancel every remaining step."""
        self._kill.set()
        self.cancel.set()

    @property
    def killed(self) -> bool:
        """True once :meth:`kill` was called: nothing more runs, not even always()."""
        return self._kill.is_set()

    @property
    def failed(self) -> bool:
        """True once a step's conclusion was failure."""
        return self._session is not None and self._session.failed

    def status(self) -> Status:
        """The run's status so far."""
        if self.cancel.is_set():
            return "cancelled"
        return "failure" if self.failed else "success"

    def run(self, task: PlanTask) -> RunResult:
        """Execute ``task``'s steps, then the plugins' end-of-run hooks."""
        if self._session is not None:
            raise RuntimeError("a Runner runs one task once")
        options = self.options
        contexts = base_contexts(
            event=options.event,
            secrets=self.secrets,
            inputs=dict(options.inputs),
            run_id=self.run_id,
            app=options.app,
            task=options.task,
            environ=options.environ,
        )
        for value in contexts["sts"].values():
            self.masker.add(value)  # credentials: masked like secrets
        contexts["matrix"], contexts["needs"] = dict(options.matrix), dict(options.needs)
        session = self._session = Session(
            run_id=self.run_id,
            task_id=options.instance or task.id,
            workspace=self.workspace,
            sink=options.sink,
            contexts=contexts,
            extra_env=options.env,
            cancel=self.cancel,
            kill=self._kill,
            masker=self.masker,
            observers=self.observers,
        )
        _sweep(self._tmp_root)
        tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", dir=self._tmp_root))
        scope = Scope(
            run_id=self.run_id,
            workspace=self.workspace,
            tmp=tmp,
            secrets=self.secrets,
            masker=self.masker,
            cache_dir=self._cache_dir,
            kill=self._kill,
            grace=options.grace,
            sandbox=options.sandbox,
            hidden=options.hidden,
        )
        base_env = process_base_env(self.run_id, self.workspace, options.event)
        driver = StepDriver(session, scope, task, base_env)
        states = [driver.initial_state(step) for step in task.steps]
        try:
            for state in states:
                session.emit(state)
            for step, state in zip(task.steps, states, strict=True):
                driver.execute(step, state)
            states.extend(_run_hooks(session, scope, driver, len(task.steps)))
        finally:
            for pgid in scope.groups:
                kill_group(pgid)  # background processes live until the run ends, not longer
            shutil.rmtree(tmp, ignore_errors=True)
        return RunResult(session.status(), states, task_outputs(task, session))


def task_outputs(task: PlanTask, session: Session) -> dict[str, str]:
    """The task's ``outputs`` rendered after its steps (a value that cannot be rendered
    is left out, with a warning in no log: GitHub sets such an output empty)."""
    rendered: dict[str, str] = {}
    for name, template in task.outputs.items():
        try:
            rendered[name] = session.masker.mask(render(template, session.contexts))
        except ExpressionError:
            rendered[name] = ""
    return rendered


def _run_hooks(
    session: Session, scope: Scope, driver: StepDriver, first_index: int
) -> list[StepState]:
    """Run the end-of-run hooks plugins registered, last registered first, as steps."""
    done: list[StepState] = []
    for offset, (key, hook) in enumerate(reversed(scope.hooks)):
        state = StepState(
            id=f"post-{key}", task=session.task_id, name=f"Post {key}", index=first_index + offset
        )
        session.emit(state)
        if session.killed:
            state.status = state.outcome = state.conclusion = "cancelled"
            state.finished_at = utcnow()
            session.emit(state)
            done.append(state)
            continue
        status = session.status()
        key = log_key(session.task_id, state.id)
        writer = LogWriter(session.sink, session.run_id, key, masker=session.masker)
        state.status, state.started_at = "running", utcnow()
        session.emit(state)
        try:
            call = driver.bare_call(state.id, state.index, writer)
            finished: Finished = run_hook(scope, call, hook, status)
        except ExpressionError as exc:
            finished = Finished(ok=False, message=str(exc))
        driver.conclude(state, finished, writer, continue_on_error=False)
        done.append(state)
    return done


def _private_tmp_root() -> Path | None:
    """Where each run keeps its step scripts and file-command files.

    A RAM-backed /dev/shm when there is one: every step creates three small
    files there, and on a busy disk one creation can cost a millisecond.
    Nothing there must outlive the run, so losing it at a reboot is no loss.
    """
    shm = Path("/dev/shm")  # noqa: S108  a private mkdtemp directory inside it
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return None  # tempfile's default


_TMP_PREFIX = "scd-run-"


def _sweep(root: Path | None) -> None:
    """Remove run temp dirs left by processes that died (a killed worker cleans nothing)."""
    root = root or Path(tempfile.gettempdir())
    uid = os.getuid()
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith(_TMP_PREFIX)]
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(_TMP_PREFIX) :].partition("-")[0]
        try:
            if not pid.isdigit() or entry.stat(follow_symlinks=False).st_uid != uid:
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue  # alive but not ours to signal, or vanished meanwhile
