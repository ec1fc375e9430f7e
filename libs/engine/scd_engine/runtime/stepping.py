"""One step's life: decide, render, execute, read its file commands, conclude.

Contract: :class:`StepDriver` runs the steps (:class:`~scd_engine.plan.PlanStep`)
of one task for the :class:`~scd_engine.runtime.runner.Runner`, from one thread,
through the run's :class:`~scd_engine.runtime.session.Session`. It renders
templates in ``env``, ``with``, ``run``, ``working-directory`` and ``name``
(not in ``script``: a script reads the contexts as objects); evaluates the
compiled ``if``; evaluates ``continue-on-error`` and ``timeout-minutes`` when
they are expressions. An expression error, a bad working directory or a
malformed file command fails the step with the message in its log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scd_core.errors import ScdError
from scd_core.lifecycle_keys import log_key
from scd_core.logs import LogWriter
from scd_core.models import StepState, utcnow

from scd_engine.expressions import ExpressionError, to_bool
from scd_engine.plan.model import PlanStep, PlanTask
from scd_engine.runtime.commands import create_empty, read_file_command
from scd_engine.runtime.contexts import step_context
from scd_engine.runtime.kinds import (
    Finished,
    Scope,
    StepCall,
    execute_plugin,
    execute_run,
    execute_script,
)
from scd_engine.runtime.session import Session

__all__ = ["StepDriver"]

_KINDS: dict[str, Callable[[Scope, StepCall], Finished]] = {
    "run": execute_run,
    "uses": execute_plugin,
    "script": execute_script,
}


class StepDriver:
    """Executes the steps of one task, keeping the ``$SCD_ENV`` additions between them."""

    def __init__(
        self, session: Session, scope: Scope, task: PlanTask, base_env: Mapping[str, str]
    ) -> None:
        self.session = session
        self.scope = scope
        self.task = task
        self.base_env = dict(base_env)
        self.added_env: dict[str, str] = {}

    def initial_state(self, step: PlanStep) -> StepState:
        """The pending state of a step, before anything is rendered."""
        return StepState(id=step.key, task=self.session.task_id, name=step.label, index=step.index)

    def execute(self, step: PlanStep, state: StepState) -> None:
        """Run (or skip, or cancel) one step and record its end in ``state``."""
        session = self.session
        error: str | None = None
        try:
            session.contexts["env"] = self._run_env()
            decision = self._decide(step)
        except (ExpressionError, ScdError) as exc:
            decision, error = "run", str(exc)
        if decision != "run":
            state.status = state.outcome = state.conclusion = decision  # type: ignore[assignment]
            state.finished_at = utcnow()
            session.contexts["steps"][state.id] = step_context(
                outputs={}, outcome=decision, conclusion=decision, status=decision
            )
            session.emit(state)
            return
        key = log_key(session.task_id, state.id)
        writer = LogWriter(session.sink, session.run_id, key, masker=session.masker)
        state.status, state.started_at = "running", utcnow()
        continue_on_error = False
        if error is not None:
            finished = Finished(ok=False, message=error)
        else:
            try:
                continue_on_error = self._continue_on_error(step)
                call, minutes = self._prepare(step, state, writer)
                session.emit(state)
                finished = _KINDS[call.kind](self.scope, call)
                if finished.timed_out:
                    finished.message = f"timed out after {minutes:g} minutes"
                finished.outputs = {
                    **read_file_command(call.output_file, "SCD_OUTPUT"),
                    **finished.outputs,
                }
                self.added_env.update(read_file_command(call.env_file, "SCD_ENV"))
            except (ExpressionError, ScdError) as exc:
                finished = Finished(ok=False, message=str(exc))
        self.conclude(state, finished, writer, continue_on_error=continue_on_error)

    def conclude(
        self, state: StepState, finished: Finished, writer: LogWriter, *, continue_on_error: bool
    ) -> None:
        """Record outcome and conclusion, log why a step failed, close its log."""
        if finished.ok:
            outcome = "success"
        elif finished.cancelled:
            outcome = "cancelled"
        else:
            outcome = "failure"
        session = self.session
        masker = session.masker
        if outcome != "success" and finished.message:
            writer.line(f"error: {finished.message}" if outcome == "failure" else finished.message)
            state.message = masker.mask(finished.message)
        conclusion = "success" if outcome == "failure" and continue_on_error else outcome
        if conclusion == "failure":
            session.failed = True
        state.status = outcome  # type: ignore[assignment]
        state.outcome, state.conclusion = outcome, conclusion
        # The record may be stored or shown: masked. Later steps get the real values.
        state.outputs = {k: masker.mask(v) for k, v in finished.outputs.items()}
        state.cpu_seconds, state.max_rss_bytes = finished.cpu_seconds, finished.max_rss_bytes
        state.finished_at = utcnow()
        absorbed = outcome == "failure" and conclusion == "success"
        session.contexts["steps"][state.id] = step_context(
            outputs=finished.outputs,
            outcome=outcome,
            conclusion=conclusion,
            status="error-with-continue" if absorbed else outcome,
        )
        writer.close()
        session.emit(state)

    def bare_call(self, key: str, index: int, writer: LogWriter) -> StepCall:
        """A StepCall for an end-of-run hook: the run's env, the workspace, no files."""
        env = self._run_env()
        return StepCall(
            key=key,
            index=index,
            kind="uses",
            body="",
            inputs={},
            shell=None,
            cwd=self.scope.workspace,
            env={**self.base_env, **env},
            contexts=self.session.contexts,
            writer=writer,
            output_file=self.scope.tmp / f"out-{index}",
            env_file=self.scope.tmp / f"env-{index}",
            timeout=None,
            cancel=None,
        )

    def _decide(self, step: PlanStep) -> str:
        session = self.session
        if session.killed or (session.cancel.is_set() and not step.after_cancel):
            return "cancelled"
        if step.condition is None:
            return "run" if session.functions["success"]() else "skipped"  # the common case, fast
        return "run" if to_bool(session.evaluate(step.condition)) else "skipped"

    def _prepare(
        self, step: PlanStep, state: StepState, writer: LogWriter
    ) -> tuple[StepCall, float]:
        session, scope = self.session, self.scope
        contexts = session.contexts
        step_env = {k: session.render(v) for k, v in step.env.items()}
        contexts["env"] = env = {**contexts["env"], **step_env}
        if step.name:
            state.name = session.render(step.name)
        cwd = scope.workspace
        if step.working_directory:
            cwd = (scope.workspace / session.render(step.working_directory)).resolve()
            if not cwd.is_dir():
                raise ScdError(f"working-directory {step.working_directory!r} does not exist")
        minutes = self._minutes(step.timeout_minutes)
        body = session.render(step.body) if step.kind == "run" else step.body
        inputs = {k: session.render_deep(v) for k, v in step.with_.items()}
        index = step.index
        out_file, env_file = scope.tmp / f"out-{index}", scope.tmp / f"env-{index}"
        create_empty(out_file)
        create_empty(env_file)
        process_env = {
            **self.base_env,
            **env,
            "SCD_OUTPUT": str(out_file),
            "SCD_ENV": str(env_file),
            "SCD_STEP": state.id,
        }
        call = StepCall(
            key=state.id,
            index=index,
            kind=step.kind,
            body=body,
            inputs=inputs,
            shell=step.shell,
            cwd=cwd,
            env=process_env,
            contexts=contexts,
            writer=writer,
            output_file=out_file,
            env_file=env_file,
            timeout=None if minutes is None else minutes * 60.0,
            # A step started after a cancel (always()) is not stopped by that same cancel.
            cancel=None if session.cancel.is_set() else session.cancel,
        )
        return call, minutes or 0.0

    def _run_env(self) -> dict[str, str]:
        """The env context before the step's own ``env``: extra, pipeline, exported."""
        rendered = {k: self.session.render(v) for k, v in self.task.env.items()}
        return {**self.session.extra_env, **rendered, **self.added_env}

    def _continue_on_error(self, step: PlanStep) -> bool:
        value: Any = step.continue_on_error
        if isinstance(value, str):
            value = self.session.value(value)
        return bool(to_bool(value))

    def _minutes(self, value: float | str | None) -> float | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = self.session.value(value)
        try:
            minutes = float(value)
        except (TypeError, ValueError) as exc:
            raise ScdError(f"timeout-minutes must be a number, not {value!r}") from exc
        if minutes <= 0:
            raise ScdError(f"timeout-minutes must be positive, not {minutes:g}")
        return minutes
