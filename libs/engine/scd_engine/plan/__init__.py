"""The plan: a validated pipeline compiled into plain data, what the runtime runs.

::

    from scd_engine.plan import compile_plan

    plan = compile_plan(load_pipeline("serverless-pipeline.yaml"))
    task = plan.task("default")          # one task today; tasks with needs and matrix later
    json.dumps(plan.to_data())           # plain data: Plan.from_data() reads it back

Stages, as Woodpecker's frontend → IR → runtime: :mod:`scd_engine.spec` parses and
lints, :func:`compile_plan` checks the expressions and builds the :class:`Plan`,
:class:`scd_engine.runtime.Runner` runs one :class:`PlanTask`. The models load
without the spec package, so the runtime imports them alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scd_engine.plan.model import PLAN_VERSION, Matrix, Plan, PlanError, PlanStep, PlanTask

if TYPE_CHECKING:
    from scd_engine.plan.compiler import compile_plan

__all__ = ["PLAN_VERSION", "Matrix", "Plan", "PlanError", "PlanStep", "PlanTask", "compile_plan"]


def __getattr__(name: str) -> Any:
    if name == "compile_plan":  # loads the spec package: only for who compiles
        from scd_engine.plan.compiler import compile_plan

        return compile_plan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
