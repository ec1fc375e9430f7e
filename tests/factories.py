"""Factories for the models tests build: an event, a run, a job, a step, a task.

Import by name (``from factories import make_run``); benches put ``tests/`` on
``sys.path`` first. Every factory takes field overrides as keywords, and two calls
with the same arguments give equal models.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from scd_core.models import DEFAULT_TASK, Event, Job, Run, StepState, TaskState

__all__ = ["BASE", "make_event", "make_job", "make_run", "make_step", "make_task"]

BASE = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
"""The default ``created_at`` of a run: fixed, aware, with microseconds."""


def make_event(n: int | str = 1, **fields: Any) -> Event:
    """A GitHub push to main, delivery ``delivery-<n>``, payload ``{"n": n}``."""
    values: dict[str, Any] = {
        "provider": "github",
        "event_name": "push",
        "ref": "refs/heads/main",
        "branch": "main",
        "commit": "a" * 40,
        "delivery_id": f"delivery-{n}",
        "payload": {"n": n},
    }
    return Event.model_validate({**values, **fields})


def make_run(
    n: int | str = 1,
    *,
    key: int | str | None = None,
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> Run:
    """Run ``run-<n>`` of app ``web``, queued, created at ``BASE``, with ``make_event(n)``.

    ``key`` gives it another run's dedup key (``github:delivery-<key>``); ``payload``
    replaces the event's payload; other keywords set fields (``event`` included).
    """
    event = make_event(n) if payload is None else make_event(n, payload=payload)
    values: dict[str, Any] = {
        "id": f"run-{n}",
        "app": "web",
        "dedup_key": f"github:delivery-{n if key is None else key}",
        "event": event,
        "created_at": BASE,
    }
    return Run.model_validate({**values, **fields})


def make_job(run: Run | None = None, **fields: Any) -> Job:
    """The job of ``run`` (``make_run()`` by default): its ids and checkout target."""
    run = make_run() if run is None else run
    known = {
        "id": run.id,
        "app": run.app,
        "event": run.event,
        "clone_url": run.event.clone_url,
        "ref": run.event.ref,
        "commit": run.event.commit,
        "pipeline": run.pipeline,
        "attempt": run.attempt,
    }
    # only what Job declares: the factory follows the model as it slims down
    values = {name: value for name, value in known.items() if name in Job.model_fields}
    return Job.model_validate({**values, **fields})


def make_step(step_id: str = "build", *, index: int = 0, **fields: Any) -> StepState:
    """Step ``step_id`` of the default task, at ``index``, pending."""
    return StepState.model_validate({"id": step_id, "index": index, **fields})


def make_task(task_id: str = DEFAULT_TASK, **fields: Any) -> TaskState:
    """Task instance ``task_id`` (its task id too), queued."""
    return TaskState.model_validate({"id": task_id, "task": task_id, **fields})
