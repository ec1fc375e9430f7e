"""A run's DAG as the worker sees it: which plan task a job runs, the fan, the next jobs.

Contract. A run's first job (``job.id == run id``, task ``default``) checks the
code out and reads the pipeline. A pipeline of one ``steps:`` list is run there
and then. A pipeline of ``tasks:`` is fanned out instead: in one lifecycle write
(:meth:`~scd_core.lifecycle.Lifecycle.fan_out`) its ``default`` task is replaced
by the first decision of the plan (the tasks without needs, queued), which are
dispatched, each as its own job, and the first invocation ends. Each task
instance's job checks out the commit the first one resolved (so every task
builds the same commit), runs its plan task with its ``matrix`` and ``needs``
contexts, and ends through :meth:`~scd_core.lifecycle.Lifecycle.end_and_fan`,
which decides, in the same write, which tasks became ready; this worker
dispatches exactly those. There is no orchestrator: whichever worker ends a
task moves the run on.

Job ids: the run id for the first job; for a task instance the run id, ``-``,
the instance id with every character outside ``[A-Za-z0-9_-]`` as ``_`` (at most
40) and 8 hex digits of its SHA-256 (distinct instances never share an id; FC's
task ids allow only those characters). The same instance always gets the same
id, so a repeated dispatch is deduplicated by the invoker.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from scd_core.lifecycle import Fan
from scd_core.models import DEFAULT_TASK, Job, Run, TaskState

if TYPE_CHECKING:
    from scd_engine.plan import Plan, PlanTask

__all__ = ["fan_for", "instance_job", "is_dag", "plan_task_of"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def is_dag(plan: Plan) -> bool:
    """Whether ``plan`` is written as ``tasks:`` (else it is one ``default`` task)."""
    return [task.id for task in plan.tasks] != [DEFAULT_TASK]


def fan_for(plan: Plan, run: Run) -> Fan:
    """The fan the lifecycle applies for ``run``: the engine's decision over ``plan``,
    with the run's ``git``, ``event`` and ``inputs`` for the tasks' ``if``."""
    from scd_engine.plan.progress import progress
    from scd_engine.runtime.contexts import base_contexts

    contexts: dict[str, Any] = base_contexts(
        event=run.event, secrets={}, inputs={}, run_id=run.id, environ={}
    )

    def fan(tasks: Sequence[TaskState]) -> Sequence[Any]:
        return progress(plan, tasks, contexts).states

    return fan


def plan_task_of(plan: Plan, run: Run, instance: str) -> tuple[PlanTask, TaskState]:
    """The plan task instance ``instance`` of ``run`` runs, and its recorded state;
    ``LookupError`` saying why when the run records no such instance."""
    for state in run.tasks:
        if state.id == instance:
            for task in plan.tasks:
                if task.id == state.task:
                    return task, state
            raise LookupError(f"the pipeline has no task {state.task!r} (any more)")
    raise LookupError(f"the run has no task {instance!r}")


def instance_job(first: Job, run_id: str, instance: str, commit: str) -> Job:
    """The job of task instance ``instance``, from the run's first job."""
    readable = _UNSAFE.sub("_", instance)[:40]
    digest = hashlib.sha256(instance.encode()).hexdigest()[:8]
    return first.model_copy(
        update={
            "id": f"{run_id}-{readable}-{digest}",
            "run_id": run_id,
            "task": instance,
            "attempt": 1,
            "commit": commit,
        }
    )
