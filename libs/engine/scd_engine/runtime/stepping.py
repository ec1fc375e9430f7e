"""One step's life: decide, render, execute, read its file commands, conclude.

Contract: :class:`StepDriver` is used by :class:`~scd_engine.runtime.runner.Runner`
only, from one thread. It renders templates in ``env``, ``with``, ``run``,
``working-directory`` and ``name`` (not in ``script``: a script reads the
contexts as objects); evaluates ``if`` through ``condition()``; evaluates
``continue-on-error`` and ``timeout-minutes`` when they are expressions. An
expression error, a bad working directory or a malformed file command fails
the step with the message in its log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from scd_core.errors import ScdError
from scd_core.logs import LogWriter
from scd_core.models import StepState, utcnow

from scd_engine.expressions import (
    ExpressionError,
    condition,
    evaluate,
    render,
    render_value,
    to_bool,
)
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

if TYPE_CHECKING:
    from scd_engine.runtime.runner import Runner
    from scd_engine.spec import Pipeline, Step

__all__ = ["StepDriver", "runs_after_cancel"]

_KINDS: dict[str, Callable[[Scope, StepCall], Finished]] = {
    "run": execute_run,
    "uses": execute_plugin,
    "script": execute_script,
}
_AFTER_CANCEL = re.compile(r"\b(always|cancelled)\s*\(", re.IGNORECASE)


def runs_after_cancel(if_value: object) -> bool:
    """True when an ``if`` names ``always()`` or ``cancelled()``."""
    return isinstance(if_value, str) and bool(_AFTER_CANCEL.search(if_value))


class StepDriver:
    """Executes the steps of one run, keeping the ``$SCD_ENV`` additions between them."""

    def __init__(
        self, runner: Runner, scope: Scope, pipeline: Pipeline, base_env: Mapping[str, str]
    ) -> None:
        self.runner = runner
        self.scope = scope
        self.pipeline = pipeline
        self.base_env = dict(base_env)
        self.added_env: dict[str, str] = {}

    def initial_state(self, index: int, step: Step) -> StepState:
        """The pending state of a step, before anything is rendered."""
        return StepState(id=step.key(index), name=_default_name(step), index=index)

    def execute(self, index: int, step: Step, state: StepState) -> None:
        """Run (or skip, or cancel) one step and record its end in ``state``."""
        error: str | None = None
        try:
            self.runner.contexts["env"] = self._run_env()
            decision = self._decide(step)
        except (ExpressionError, ScdError) as exc:
            decision, error = "run", str(exc)
        if decision != "run":
            state.status = state.outcome = state.conclusion = decision  # type: ignore[assignment]
            state.finished_at = utcnow()
            self.runner.contexts["steps"][state.id] = step_context(
                outputs={}, outcome=decision, conclusion=decision, status=decision
            )
            self.runner.emit(state)
            return
        writer = LogWriter(
            self.runner.sink, self.runner.run_id, state.id, masker=self.runner.masker
        )
        state.status, state.started_at = "running", utcnow()
        continue_on_error = False
        if error is not None:
            finished = Finished(ok=False, message=error)
        else:
            try:
                continue_on_error = self._continue_on_error(step)
                call, minutes = self._prepare(index, step, state, writer)
                self.runner.emit(state)
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
        masker = self.runner.masker
        if outcome != "success" and finished.message:
            writer.line(f"error: {finished.message}" if outcome == "failure" else finished.message)
            state.message = masker.mask(finished.message)
        conclusion = "success" if outcome == "failure" and continue_on_error else outcome
        if conclusion == "failure":
            self.runner.mark_failed()
        state.status = outcome  # type: ignore[assignment]
        state.outcome, state.conclusion = outcome, conclusion
        # The record may be stored or shown: masked. Later steps get the real values.
        state.outputs = {k: masker.mask(v) for k, v in finished.outputs.items()}
        state.finished_at = utcnow()
        absorbed = outcome == "failure" and conclusion == "success"
        self.runner.contexts["steps"][state.id] = step_context(
            outputs=finished.outputs,
            outcome=outcome,
            conclusion=conclusion,
            status="error-with-continue" if absorbed else outcome,
        )
        writer.close()
        self.runner.emit(state)

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
            contexts=self.runner.contexts,
            writer=writer,
            output_file=self.scope.tmp / f"out-{index}",
            env_file=self.scope.tmp / f"env-{index}",
            timeout=None,
            cancel=None,
        )

    def _decide(self, step: Step) -> str:
        runner = self.runner
        if_value: Any = step.if_
        if runner.killed or (runner.cancel.is_set() and not runs_after_cancel(if_value)):
            return "cancelled"
        if if_value is None or if_value == "":
            return "run" if runner.functions["success"]() else "skipped"  # the common case, fast
        if isinstance(if_value, bool):
            if_value = "true" if if_value else "false"
        result = evaluate(condition(str(if_value)), runner.contexts, functions=runner.functions)
        return "run" if to_bool(result) else "skipped"

    def _prepare(
        self, index: int, step: Step, state: StepState, writer: LogWriter
    ) -> tuple[StepCall, float]:
        runner, scope = self.runner, self.scope
        contexts = runner.contexts
        step_env = {str(k): self._render(str(v)) for k, v in (step.env or {}).items()}
        contexts["env"] = env = {**contexts["env"], **step_env}
        if step.name:
            state.name = self._render(str(step.name))
        cwd = scope.workspace
        if step.working_directory:
            cwd = (scope.workspace / self._render(str(step.working_directory))).resolve()
            if not cwd.is_dir():
                raise ScdError(f"working-directory {step.working_directory!r} does not exist")
        minutes = self._minutes(step.timeout_minutes)
        kind = step.kind
        if kind == "run":
            body: Any = self._render(str(step.run))
        elif kind == "uses":
            body = str(step.uses)
        else:
            body = str(step.script)
        inputs = {str(k): self._render_deep(v) for k, v in (step.with_ or {}).items()}
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
            kind=kind,
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
            cancel=None if runner.cancel.is_set() else runner.cancel,
        )
        return call, minutes or 0.0

    def _run_env(self) -> dict[str, str]:
        """The env context before the step's own ``env``: extra, pipeline, exported."""
        rendered = {str(k): self._render(str(v)) for k, v in (self.pipeline.env or {}).items()}
        return {**self.runner.extra_env, **rendered, **self.added_env}

    def _continue_on_error(self, step: Step) -> bool:
        value: Any = step.continue_on_error
        if isinstance(value, str):
            value = render_value(value, self.runner.contexts, functions=self.runner.functions)
        return bool(to_bool(value))

    def _minutes(self, value: float | str | None) -> float | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = render_value(value, self.runner.contexts, functions=self.runner.functions)
        try:
            minutes = float(value)
        except (TypeError, ValueError) as exc:
            raise ScdError(f"timeout-minutes must be a number, not {value!r}") from exc
        if minutes <= 0:
            raise ScdError(f"timeout-minutes must be positive, not {minutes:g}")
        return minutes

    def _render(self, text: str) -> str:
        if "${{" not in text:
            return text
        return render(text, self.runner.contexts, functions=self.runner.functions)

    def _render_deep(self, value: Any) -> Any:
        if isinstance(value, str):
            if "${{" not in value:
                return value
            return render_value(value, self.runner.contexts, functions=self.runner.functions)
        if isinstance(value, list):
            return [self._render_deep(v) for v in value]
        if isinstance(value, dict):
            return {k: self._render_deep(v) for k, v in value.items()}
        return value


def _default_name(step: Step) -> str:
    if step.name:
        return str(step.name)
    if step.kind == "run":
        first = next((ln for ln in str(step.run).splitlines() if ln.strip()), "")
        return f"Run {first.strip()}"
    if step.kind == "uses":
        return f"Run {step.uses}"
    return "Run script"
