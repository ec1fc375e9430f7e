"""Plain data shared by the trigger, the worker and the stores.

Contract: these models hold no secret values. ``Event`` is the provider-neutral
form of a webhook, manual request or schedule tick; ``Run`` is what a store
records; ``Job`` is what the trigger hands an invoker (``job.id == run.id`` for a
run's one task), ids only.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from pydantic_core import PydanticSerializationError

from scd_core.payload import Payload, empty_payload

__all__ = [
    "DEFAULT_TASK",
    "FINAL_STATUSES",
    "STATUSES",
    "Event",
    "EventName",
    "Job",
    "Run",
    "Status",
    "StepState",
    "TaskState",
    "new_dict",
    "new_list",
    "utcnow",
]

DEFAULT_TASK = "default"
"""The task id of a pipeline written as one top-level ``steps:`` list."""

Status = Literal[
    "queued", "pending", "running", "success", "failure", "cancelled", "skipped", "error", "paused"
]
STATUSES: tuple[str, ...] = (
    "queued",
    "pending",
    "running",
    "success",
    "failure",
    "cancelled",
    "skipped",
    "error",
    "paused",
)
FINAL_STATUSES: frozenset[str] = frozenset({"success", "failure", "cancelled", "skipped", "error"})

EventName = Literal["push", "tag", "pull_request", "schedule", "manual"]


def new_list() -> list[Any]:
    """A new empty list, as a pydantic ``default_factory``.

    Not ``list`` itself: pydantic reads a factory's signature, and for a builtin
    that loads Python's text-signature parser, milliseconds of every cold start.
    """
    return []


def new_dict() -> dict[str, Any]:
    """A new empty dict, as a pydantic ``default_factory`` (see ``new_list``)."""
    return {}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


class Event(BaseModel):
    """A normalised trigger event (serverless-cd's ``git`` context, extended).

    Events are not changed after they are made. ``delivered_json`` is the
    event's JSON, built once from the payload's own text when the event was read
    from a delivery that carried exactly ``payload`` (see ``with_payload_json``);
    stores and invokers write it instead of encoding the payload again. It is not
    a field: a copy keeps it, a serialised and reloaded event has none.
    """

    model_config = ConfigDict(extra="forbid")

    provider: str
    event_name: EventName
    action: str | None = None
    ref: str | None = None
    branch: str | None = None
    tag: str | None = None
    commit: str | None = None
    before: str | None = None
    message: str | None = None
    pusher: str | None = None
    # serverless-cd's pusher object {name, email, avatar_url}, as its trigger reads it
    pusher_name: str | None = None
    pusher_email: str | None = None
    pusher_avatar: str | None = None
    clone_url: str | None = None
    repository: str | None = None  # "owner/name"
    repo_owner: str | None = None
    pr_number: int | None = None
    source_branch: str | None = None
    target_branch: str | None = None
    merged: bool | None = None
    draft: bool | None = None
    # a pull request whose head lives in another repository than its base (a fork):
    # its code is anyone's, so its runs get no secrets unless the app trusts forks
    fork: bool | None = None
    added: list[str] = Field(default_factory=new_list)
    modified: list[str] = Field(default_factory=new_list)
    removed: list[str] = Field(default_factory=new_list)
    delivery_id: str | None = None
    inputs: dict[str, str] = Field(default_factory=new_dict)
    payload: Payload = Field(default_factory=empty_payload)
    _json: str | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        # how the payload's text came is not part of the event's value
        if isinstance(other, Event):
            return type(self) is type(other) and self.__dict__ == other.__dict__
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like every unfrozen model

    @property
    def delivered_json(self) -> str | None:
        """The whole event as JSON, its payload written as delivered; None when the
        payload's text is not known (or a field cannot be encoded as is)."""
        # read without BaseModel.__getattr__: this is on the webhook path
        private = self.__pydantic_private__
        return None if private is None else private.get("_json")

    def with_payload_json(self, text: str) -> Event:
        """Build ``delivered_json`` from ``text``, the payload's JSON, once, here;
        returns ``self``.

        The caller vouches that ``text`` is strict JSON (RFC 8259, no NaN) that
        parses to exactly ``payload``, so that writing it is the same as encoding it.
        """
        try:
            fields = self.__pydantic_serializer__.to_json(self, exclude={"payload": True})
        except PydanticSerializationError:  # a lone surrogate: encoded the slow way later
            return self
        self._json = f'{fields.decode()[:-1]},"payload":{text}}}'
        return self

    @property
    def changed_files(self) -> list[str]:
        """Every path the event's commits added, modified or removed."""
        return [*self.added, *self.modified, *self.removed]


class StepState(BaseModel):
    """The recorded state of one step of a run."""

    # built on first use: steps are not on a webhook's cold start
    model_config = ConfigDict(defer_build=True)

    id: str
    task: str = DEFAULT_TASK
    name: str | None = None
    index: int = 0
    status: Status = "pending"
    outcome: str | None = None
    conclusion: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outputs: dict[str, str] = Field(default_factory=new_dict)
    message: str | None = None
    # what the step's processes used, from the kernel's accounting of them (None: not
    # measured, as for a step that ran no process or a record of an older release)
    cpu_seconds: float | None = None
    """User plus system CPU time of the step's process and the children it waited for."""
    max_rss_bytes: int | None = None
    """Peak resident memory of the largest of the step's processes (``ru_maxrss``)."""


class TaskState(BaseModel):
    """The recorded state of one task instance of a run.

    ``id`` is the task instance id: the task's id, or for a matrix instance the
    task's id with its combination (``build (node 18, linux)``); ``task`` is the
    task's id in the pipeline. Task states live inside their run's record, so one
    conditional ``update_run`` changes the run and its tasks together.
    """

    # built on first use: tasks are not on a webhook's cold start
    model_config = ConfigDict(defer_build=True)

    id: str = DEFAULT_TASK
    task: str = DEFAULT_TASK
    name: str | None = None
    matrix: dict[str, Any] = Field(default_factory=new_dict)
    needs: list[str] = Field(default_factory=new_list)  # the task ids it waited for
    status: Status = "queued"
    attempt: int = 1
    started_at: datetime | None = None
    finished_at: datetime | None = None
    outputs: dict[str, str] = Field(default_factory=new_dict)
    region: str | None = None
    message: str | None = None
    # the FC instance that ran the task (scd_core.billing); None when it ran elsewhere
    memory_mb: int | None = None
    vcpu: float | None = None


class Run(BaseModel):
    """One run of an app's pipeline, as a store records it.

    ``number`` is the run's number within its app (``web #42``): None on a run not
    yet recorded; the store allocates it at creation (1, 2, 3... per app, dense, each
    once) and it never changes afterwards.
    """

    id: str
    app: str
    number: int | None = None
    dedup_key: str
    status: Status = "queued"
    event: Event
    pipeline: str = "serverless-pipeline.yaml"
    attempt: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    message: str | None = None
    rerun_of: str | None = None
    approved_by: str | None = None  # the token that approved a fork's run (forks.approve)
    tasks: list[TaskState] = Field(default_factory=new_list)
    version: int = 0
    # set only on the stand-in a store lists for a stored record it cannot decode (see
    # ``scd_core.stores.rows.unreadable_run``); never stored, and such a run is never updated
    unreadable: bool = Field(default=False, exclude=True)


class Job(BaseModel):
    """What the trigger hands the worker: which task of which run to run, and where from.

    A job holds ids and the checkout target, never the event: the worker reads the
    run (its event, inputs and payload) from the store, so a job stays a few hundred
    bytes whatever the webhook carried (FC caps an async payload at 128 KB). ``id``
    is the invocation's id (FC's async task id, the dedup key of a dispatch): the run
    id for a run's one task. ``run_id`` names the run when it differs from ``id``;
    read ``run`` for the run's id either way. ``region`` is where the worker should
    run and ``function`` the worker function there (None: the trigger's own, for
    each). Jobs queued by an older release, which carried the whole ``event`` and a
    null ``task``, still load: the event is dropped (the run in the store has it)
    and the task is ``default``.
    """

    id: str
    app: str
    run_id: str | None = None
    task: str = DEFAULT_TASK
    attempt: int = 1
    clone_url: str | None = None
    ref: str | None = None
    commit: str | None = None
    pipeline: str = "serverless-pipeline.yaml"
    region: str | None = None
    function: str | None = None

    @field_validator("task", mode="before")
    @classmethod
    def _default_task(cls, value: object) -> object:
        return DEFAULT_TASK if value is None else value  # an older release wrote null

    @property
    def run(self) -> str:
        """The id of the run this job belongs to."""
        return self.run_id or self.id
