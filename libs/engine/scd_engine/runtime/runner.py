"""Run a pipeline's steps on this machine: the engine the worker and ``scd run`` share.

Contract: ``Runner(...).run(pipeline)`` executes the steps in order and returns a
:class:`RunResult`; a failing step is a result, not an exception (exceptions
mean the system failed: a sink or the disk). Every StepState change goes to
``observer`` (from the calling thread), every output line through the masker
into ``sink`` under the step's key. ``cancel`` may be set from any thread: the
running step gets SIGTERM, ``grace`` seconds, then SIGKILL; the remaining steps
are ``cancelled`` except those whose ``if`` uses ``always()`` or ``cancelled()``.
:meth:`Runner.kill` stops at once. A Runner runs one pipeline once.

Statuses: a step that failed under ``continue-on-error`` is recorded with
status ``failure``, outcome ``failure`` and conclusion ``success`` (its
``steps.<id>.status`` context is serverless-cd's ``error-with-continue``); the
run succeeds. The run is ``cancelled`` when cancel was asked, else ``failure``
when a step's conclusion is failure, else ``success``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scd_core.logs import LogWriter
from scd_core.masking import Masker
from scd_core.models import Event, Status, StepState, utcnow

from scd_engine.expressions import ExpressionError, hash_files_function
from scd_engine.runtime.contexts import base_contexts
from scd_engine.runtime.environment import process_base_env
from scd_engine.runtime.kinds import Finished, Scope, run_hook
from scd_engine.runtime.process import kill_group
from scd_engine.runtime.stepping import StepDriver

if TYPE_CHECKING:
    from scd_core.logsink import LogSink

    from scd_engine.spec import Pipeline

__all__ = ["RunResult", "Runner"]

Observer = Callable[[StepState], None]


@dataclass
class RunResult:
    """The end of a run: its status and every step's final state."""

    status: Status
    steps: list[StepState]


class Runner:
    """Runs one pipeline in ``workspace``; see the module docstring for the contract."""

    def __init__(
        self,
        workspace: Path,
        *,
        sink: LogSink,
        run_id: str,
        event: Event | None = None,
        secrets: Mapping[str, str] | None = None,
        inputs: Mapping[str, str] | None = None,
        env: Mapping[str, str] | None = None,
        cancel: threading.Event | None = None,
        observer: Observer | None = None,
        grace: float = 10.0,
        cache_dir: Path | None = None,
        app: Mapping[str, Any] | None = None,
        task: Mapping[str, Any] | None = None,
        masker: Masker | None = None,
        tmp_root: Path | None = None,
    ) -> None:
        """Set up one run (nothing starts until :meth:`run`).

        ``workspace``: the checkout, where steps run. ``sink`` and ``run_id``: where
        each step's log goes (under its key, ``step.key(i)``). ``event``: the
        normalised event (``git``/``event`` contexts), None for a plain local run.
        ``secrets``: values masked everywhere and offered as ``secrets``; ``inputs``
        (over the event's) and ``env`` (extra variables, under the pipeline's) as
        named. ``cancel``: set it from any thread to cancel. ``observer``: gets a copy
        of each StepState change. ``grace``: seconds from SIGTERM to SIGKILL.
        ``cache_dir``: the ``cache`` plugin's store. ``app``/``task``: those contexts
        (``task.id`` is the run id). ``masker``: share one (the secrets are added to
        it). ``tmp_root``: where the run's private temp dir goes (default /dev/shm).
        """
        self.workspace = Path(workspace).resolve()
        self.sink = sink
        self.run_id = run_id
        self.event = event
        self.secrets = dict(secrets or {})
        self.extra_env = dict(env or {})
        self.cancel = cancel if cancel is not None else threading.Event()
        self.observer = observer
        self.masker = masker if masker is not None else Masker()
        for value in self.secrets.values():
            self.masker.add(value)
        self._kill = threading.Event()
        self._failed = False
        self.contexts = base_contexts(
            event=event,
            secrets=self.secrets,
            inputs=dict(inputs or {}),
            run_id=run_id,
            app=app,
            task=task,
        )
        for value in self.contexts["sts"].values():
            self.masker.add(value)  # credentials: masked like secrets
        self.functions: dict[str, Callable[..., Any]] = {
            "success": lambda: not self._failed and not self.cancel.is_set(),
            "failure": lambda: self._failed,
            "always": lambda: True,
            "cancelled": lambda: self.cancel.is_set(),
            "hashFiles": hash_files_function(self.workspace),
        }
        self._grace = grace
        self._cache_dir = cache_dir or Path(tempfile.gettempdir()) / "scd-cache"
        self._tmp_root = tmp_root or _private_tmp_root()

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
        return self._failed

    def run(self, pipeline: Pipeline) -> RunResult:
        """Execute ``pipeline``'s steps, then the plugins' end-of-run hooks."""
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
            grace=self._grace,
        )
        base_env = process_base_env(self.run_id, self.workspace, self.event)
        driver = StepDriver(self, scope, pipeline, base_env)
        states = [driver.initial_state(i, step) for i, step in enumerate(pipeline.steps)]
        try:
            for state in states:
                self.emit(state)
            for i, step in enumerate(pipeline.steps):
                driver.execute(i, step, states[i])
            states.extend(self._run_hooks(scope, driver))
        finally:
            for pgid in scope.groups:
                kill_group(pgid)  # background processes live until the run ends, not longer
            shutil.rmtree(tmp, ignore_errors=True)
        return RunResult(status=self.status(), steps=states)

    def status(self) -> Status:
        """The run's status so far."""
        if self.cancel.is_set():
            return "cancelled"
        return "failure" if self._failed else "success"

    def mark_failed(self) -> None:
        """Record that a step's conclusion was failure."""
        self._failed = True

    def emit(self, state: StepState) -> None:
        """Hand a copy of ``state`` to the observer."""
        if self.observer is not None:
            # Shallow copy plus its one mutable field: a deep copy costs more than the step.
            self.observer(state.model_copy(update={"outputs": dict(state.outputs)}))

    def _run_hooks(self, scope: Scope, driver: StepDriver) -> list[StepState]:
        done: list[StepState] = []
        for offset, (key, hook) in enumerate(reversed(scope.hooks)):
            index = len(driver.pipeline.steps) + offset
            state = StepState(id=f"post-{key}", name=f"Post {key}", index=index)
            self.emit(state)
            if self.killed:
                state.status = state.outcome = state.conclusion = "cancelled"
                state.finished_at = utcnow()
                self.emit(state)
                done.append(state)
                continue
            status = self.status()
            writer = LogWriter(self.sink, self.run_id, state.id, masker=self.masker)
            state.status, state.started_at = "running", utcnow()
            self.emit(state)
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
