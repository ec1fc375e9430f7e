"""The response models of the ``/api/v1`` routes, and how runs, steps and apps map to them.

Contract: these views are all a client ever sees of a run, a step or an app. They
hold no secret (an app's webhook secret, its ``secrets`` and its checkout token
are never copied into an ``AppView``) and no event payload. Times are ISO 8601
in UTC; ``duration_s`` is seconds from ``started_at`` to ``finished_at``, or to
now while the run or step is still going, and null before it starts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from scd_core.billing import DEFAULT_FC_PRICES, FcPrices, bill_tasks
from scd_core.models import DEFAULT_TASK, Run, StepState, TaskState, utcnow
from scd_core.text import valid_unicode
from scd_trigger_spec import App

__all__ = [
    "AppList",
    "AppView",
    "CancelAnswer",
    "CostView",
    "RerunAnswer",
    "RunDetail",
    "RunList",
    "RunSummary",
    "ScheduleView",
    "StepView",
    "TaskView",
    "TokenCreated",
    "TokenList",
    "TokenView",
    "app_view",
    "run_detail",
    "run_summary",
    "step_view",
    "task_view",
]


class _Shown(BaseModel):
    """A view of stored records: text an earlier release stored with lone surrogates is
    shown with U+FFFD, so no record can fail the answer that serves it."""

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        return valid_unicode(data)


class RunSummary(_Shown):
    """A run in a list: no steps, no payload.

    ``message`` is the run's own message (why it ended ``error``, say);
    ``commit_message`` is the head commit's message. ``number`` is the run's number
    within its app (``web #42``), allocated when it was recorded.
    """

    id: str
    app: str
    number: int | None = None
    status: str
    event: str
    branch: str | None
    ref: str | None
    commit: str | None
    message: str | None
    commit_message: str | None = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    rerun_of: str | None
    unreadable: bool = False  # a record the store cannot decode: only id, app, status


class StepView(_Shown):
    """One step of a run; ``outputs`` were masked by the worker before they were stored.

    ``task`` is the id of the task instance the step belongs to (``default`` for a
    pipeline of top-level ``steps:``). ``cpu_seconds`` (user plus system) and
    ``max_rss_bytes`` (peak resident memory of its largest process) are what the
    step's processes used, null when not measured.
    """

    id: str
    task: str = DEFAULT_TASK
    name: str | None
    index: int
    status: str
    outcome: str | None
    conclusion: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    outputs: dict[str, str]
    cpu_seconds: float | None = None
    max_rss_bytes: int | None = None


class TaskView(_Shown):
    """One task instance of a run: ``id`` is the instance (``build (node 18)``), ``task``
    the pipeline's task id, ``matrix`` its matrix values; ``attempt`` counts from 1;
    ``memory_mb`` and ``vcpu`` the Function Compute instance it ran on (null elsewhere)."""

    id: str
    task: str
    name: str | None
    matrix: dict[str, Any]
    needs: list[str] = Field(default_factory=list)
    status: str
    attempt: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    outputs: dict[str, str]
    region: str | None
    message: str | None
    memory_mb: int | None = None
    vcpu: float | None = None


class CostView(BaseModel):
    """What a run's finished tasks on Function Compute were billed, from each task's
    instance size and measured duration (``scd_core.billing``). ``complete`` is false
    when a task's vCPU count was not known (its vCPU-seconds are missing);
    ``prices_as_of`` dates the price table used."""

    vcpu_seconds: float
    gb_seconds: float
    invocations: int
    cu: float
    usd: float
    complete: bool
    prices_as_of: str


class RunDetail(RunSummary):
    """One run with its recorded steps in order, the set-up step first, and its task
    instances as recorded (none before a worker claimed the run). ``cost`` is null
    for a run no task of which ran on Function Compute."""

    steps: list[StepView]
    tasks: list[TaskView] = Field(default_factory=list)
    cost: CostView | None = None


class RunList(BaseModel):
    """A page of runs, newest first; pass ``next_cursor`` as ``cursor`` for the next."""

    runs: list[RunSummary]
    next_cursor: str | None


class CancelAnswer(BaseModel):
    """202: the cancel request was recorded; ``status`` is the run's status right after."""

    run_id: str
    status: str


class RerunAnswer(BaseModel):
    """202: a new run of the same commit and event was queued."""

    run_id: str
    status: str
    rerun_of: str


class ScheduleView(BaseModel):
    """One of an app's schedules and when it fires next.

    ``next_at`` is the cron's next fire time after the answer was made (null if
    the cron cannot be read). ``scd serve`` fires it then; on Function Compute
    the minute tick fires it at the first whole minute at or after it (or its
    own timer, to the second); see ``functions.trigger.schedules``.
    """

    cron: str
    name: str | None = None
    ref: str | None = None
    next_at: datetime | None


class AppView(BaseModel):
    """An app as the API shows it: never its webhook secret nor its ``secrets``.

    ``schedules`` lists its ``trigger.schedule`` entries with their next fire
    time; ``next_schedule_at`` is the earliest of them (null without any).
    """

    name: str
    repo: str
    provider: str | None
    pipeline: str
    trigger: dict[str, Any]
    webhook_url: str
    source: Literal["config", "api"]
    last_run: RunSummary | None
    schedules: list[ScheduleView] = Field(default_factory=list)
    next_schedule_at: datetime | None = None


class AppList(BaseModel):
    """Every app, from scd.yaml and from the API, sorted by name."""

    apps: list[AppView]


class TokenView(BaseModel):
    """An API token without its value (only its digest is kept, and not shown)."""

    name: str
    scopes: list[str]
    source: Literal["config", "api"]
    created_at: datetime | None
    revoked: bool = False


class TokenList(BaseModel):
    """Every token: scd.yaml's, then the API's."""

    tokens: list[TokenView]


class TokenCreated(BaseModel):
    """201: the new token's value, shown this once."""

    name: str
    token: str = Field(description="the bearer token; it is not stored and never shown again")
    scopes: list[str]


def _duration(start: datetime | None, end: datetime | None) -> float | None:
    if start is None:
        return None
    return round(((end or utcnow()) - start).total_seconds(), 3)


def run_summary(run: Run) -> RunSummary:
    """The list view of ``run``."""
    event = run.event
    return RunSummary(
        id=run.id,
        app=run.app,
        number=run.number,
        status=run.status,
        event=event.event_name,
        branch=event.branch,
        ref=event.ref,
        commit=event.commit,
        message=run.message,
        commit_message=event.message,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_s=_duration(run.started_at, run.finished_at),
        rerun_of=run.rerun_of,
        unreadable=run.unreadable,
    )


def step_view(step: StepState) -> StepView:
    """The API's view of one recorded step."""
    return StepView(
        id=step.id,
        task=step.task,
        name=step.name,
        index=step.index,
        status=step.status,
        outcome=step.outcome,
        conclusion=step.conclusion,
        started_at=step.started_at,
        finished_at=step.finished_at,
        duration_s=_duration(step.started_at, step.finished_at),
        outputs=dict(step.outputs),
        cpu_seconds=step.cpu_seconds,
        max_rss_bytes=step.max_rss_bytes,
    )


def task_view(task: TaskState) -> TaskView:
    """The API's view of one recorded task instance."""
    return TaskView(
        id=task.id,
        task=task.task,
        name=task.name,
        matrix=dict(task.matrix),
        needs=list(task.needs),
        status=task.status,
        attempt=task.attempt,
        started_at=task.started_at,
        finished_at=task.finished_at,
        duration_s=_duration(task.started_at, task.finished_at),
        outputs=dict(task.outputs),
        region=task.region,
        message=task.message,
        memory_mb=task.memory_mb,
        vcpu=task.vcpu,
    )


def run_detail(run: Run, steps: list[StepState], prices: FcPrices = DEFAULT_FC_PRICES) -> RunDetail:
    """``run`` with its ``steps``, its tasks and its cost at ``prices``."""
    bill = bill_tasks(run.tasks, prices)
    cost = None
    if bill is not None:
        cost = CostView(
            vcpu_seconds=round(bill.vcpu_seconds, 3),
            gb_seconds=round(bill.gb_seconds, 3),
            invocations=bill.invocations,
            cu=round(bill.cu, 4),
            usd=round(bill.usd, 8),
            complete=bill.complete,
            prices_as_of=prices.as_of,
        )
    return RunDetail(
        **run_summary(run).model_dump(),
        steps=[step_view(step) for step in steps],
        tasks=[task_view(task) for task in run.tasks],
        cost=cost,
    )


def app_view(
    app: App,
    *,
    source: Literal["config", "api"],
    webhook_url: str,
    last_run: Run | None,
    schedules: list[ScheduleView] | None = None,
) -> AppView:
    """The API's view of ``app``: its public fields only; ``schedules`` with their
    next fire times, computed by the caller."""
    listed = schedules or []
    upcoming = [view.next_at for view in listed if view.next_at is not None]
    return AppView(
        name=app.name,
        repo=app.repo,
        provider=app.provider,
        pipeline=app.pipeline,
        trigger=app.trigger.model_dump(mode="json", exclude_none=True),
        webhook_url=webhook_url,
        source=source,
        last_run=None if last_run is None else run_summary(last_run),
        schedules=listed,
        next_schedule_at=min(upcoming) if upcoming else None,
    )
