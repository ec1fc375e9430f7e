"""scd_engine: pipeline spec, expressions, planner and runtime.

The names below are the public API, importable from the package root; each is loaded
from its module on first use (PEP 562), so importing one part (the expressions, say)
never loads the others. The stages, as Woodpecker's: ``load_pipeline`` (parse and
lint: every problem as file:line:column) → ``compile_plan`` (plain data: tasks, needs,
matrix) → ``Runner(RunnerOptions(...)).run(plan.task(id))`` (one task on this machine).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scd_engine.expressions import ExpressionError, evaluate, render
    from scd_engine.plan import Plan, PlanTask, compile_plan
    from scd_engine.runtime import Runner, RunnerOptions, RunResult
    from scd_engine.spec import Pipeline, Step, lint_pipeline, load_pipeline

__all__ = [
    "ExpressionError",
    "Pipeline",
    "Plan",
    "PlanTask",
    "RunResult",
    "Runner",
    "RunnerOptions",
    "Step",
    "compile_plan",
    "evaluate",
    "lint_pipeline",
    "load_pipeline",
    "render",
]

_HOMES = {
    **dict.fromkeys(("ExpressionError", "evaluate", "render"), "scd_engine.expressions"),
    **dict.fromkeys(("Plan", "PlanTask", "compile_plan"), "scd_engine.plan"),
    **dict.fromkeys(("RunResult", "Runner", "RunnerOptions"), "scd_engine.runtime"),
    **dict.fromkeys(("Pipeline", "Step", "lint_pipeline", "load_pipeline"), "scd_engine.spec"),
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
