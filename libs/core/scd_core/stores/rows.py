"""What every run store backend shares, so that backends behave alike: row
encoding (``dump_model``/``load_model``), UTC normalisation, list cursors,
argument checks and the refusal of an update.

This is the backend author's API, not the caller's: callers use the Protocols
in ``scd_core.store``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta, timezone
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from scd_core.errors import BackendError, BadRequest, Conflict, NotFound, ScdError
from scd_core.models import STATUSES, Event, Run, StepState, TaskState
from scd_core.store import CONTROL_ACTIONS, MAX_LIST_LIMIT

__all__ = [
    "UNREADABLE",
    "check_control_action",
    "check_list_args",
    "decode_cursor",
    "dump_model",
    "encode_cursor",
    "epoch_us",
    "load_model",
    "normalise_run",
    "normalise_step",
    "run_matches",
    "to_utc",
    "unreadable_run",
    "update_refusal",
]

M = TypeVar("M", bound=BaseModel)


def dump_model(model: BaseModel) -> str:
    """``model`` as JSON text for a store row; ASCII-escaped if it holds lone surrogates.

    A model with an ``event`` (a ``Run``, a ``Job``) whose JSON was built from the
    delivered payload (``Event.delivered_json``) gets that text written as it is:
    the payload, nearly all of a webhook's row, is not encoded again. Keys may then
    come in another order; the value is the same.
    """
    event = getattr(model, "event", None)
    if isinstance(event, Event):
        delivered = event.delivered_json
        if delivered is not None:
            try:
                head = model.__pydantic_serializer__.to_json(model, exclude={"event": True})
            except PydanticSerializationError:
                pass  # a lone surrogate outside the event: the general path below
            else:
                # a Run and a Job have required fields: their JSON is never "{}"
                return f'{head.decode()[:-1]},"event":{delivered}}}'
    try:
        return model.model_dump_json()
    except PydanticSerializationError:
        # pydantic cannot encode a lone surrogate (valid in a JSON escape, so a webhook
        # may carry one); json.dumps escapes it and the text stays ASCII
        return json.dumps(model.model_dump(mode="json"))


def load_model(cls: type[M], data: str) -> M:
    """The model stored by ``dump_model``; ``BackendError`` if the row is corrupt."""
    try:
        return cls.model_validate_json(data)
    except ValidationError:
        pass  # an escaped lone surrogate, which pydantic's JSON parser refuses
    try:
        return cls.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:
        raise BackendError(f"a stored {cls.__name__} is unreadable") from exc


def to_utc(value: datetime) -> datetime:
    """``value`` as an aware datetime in ``timezone.utc`` (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _opt_utc(value: datetime | None) -> datetime | None:
    return None if value is None else to_utc(value)


def _is_utc(value: datetime | None) -> bool:
    return value is None or value.tzinfo is timezone.utc


def normalise_run(run: Run) -> Run:
    """``run`` with its datetimes, its tasks' included, aware UTC (``timezone.utc``):
    a copy, or ``run`` itself when they already are (as for every new run: copying
    a payload costs)."""
    if all(_is_utc(when) for when in (run.created_at, run.started_at, run.finished_at)) and all(
        _is_utc(task.started_at) and _is_utc(task.finished_at) for task in run.tasks
    ):
        return run
    return run.model_copy(
        update={
            "created_at": to_utc(run.created_at),
            "started_at": _opt_utc(run.started_at),
            "finished_at": _opt_utc(run.finished_at),
            "tasks": [_normalise_task(task) for task in run.tasks],
        }
    )


def _normalise_task(task: TaskState) -> TaskState:
    return task.model_copy(
        update={"started_at": _opt_utc(task.started_at), "finished_at": _opt_utc(task.finished_at)}
    )


def normalise_step(step: StepState) -> StepState:
    """A copy of ``step`` whose datetimes are aware UTC (``timezone.utc``)."""
    return step.model_copy(
        update={"started_at": _opt_utc(step.started_at), "finished_at": _opt_utc(step.finished_at)}
    )


def epoch_us(value: datetime) -> int:
    """Microseconds since the Unix epoch: the sortable form of ``created_at``."""
    delta = to_utc(value) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def encode_cursor(created_us: int, run_id: str) -> str:
    """The opaque cursor pointing just after the run ``(created_us, run_id)``."""
    raw = f"{created_us}:{run_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The ``(created_us, run_id)`` inside a cursor; ``BadRequest`` if malformed."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        created, _, run_id = text.partition(":")
        if not run_id:
            raise ValueError("no run id")
        return int(created), run_id
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise BadRequest("invalid cursor") from exc


def check_list_args(status: str | None, limit: int) -> None:
    """``BadRequest`` unless ``status`` is a known status (or None) and ``limit`` fits."""
    if status is not None and status not in STATUSES:
        raise BadRequest(f"unknown status {status!r} (accepted: {', '.join(STATUSES)})")
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIST_LIMIT}, not {limit}")


def check_control_action(action: str) -> None:
    """``BadRequest`` unless ``action`` is one of ``CONTROL_ACTIONS``."""
    if action not in CONTROL_ACTIONS:
        raise BadRequest(
            f"unknown control action {action!r} (accepted: {', '.join(CONTROL_ACTIONS)})"
        )


def update_refusal(run: Run, stored_version: int | None) -> ScdError:
    """Why ``update_run(run)`` was refused, for a backend to raise: ``NotFound`` when there
    is no stored run (``stored_version`` None), ``Conflict`` when the stored version is not
    the one ``run`` was based on, else ``BadRequest`` (``app``, ``dedup_key`` or
    ``created_at`` differ from the stored run's)."""
    if stored_version is None:
        return NotFound(f"no run {run.id!r}")
    if stored_version != run.version:
        return Conflict(
            f"run {run.id!r} is at version {stored_version}, the update was based on {run.version}"
        )
    return BadRequest(f"run {run.id!r}: app, dedup_key and created_at cannot change")


def run_matches(
    run: Run,
    *,
    app: str | None = None,
    status: str | None = None,
    event: str | None = None,
    branch: str | None = None,
) -> bool:
    """Whether ``run`` passes ``list_runs``' filters (None matches anything)."""
    return (
        (app is None or run.app == app)
        and (status is None or run.status == status)
        and (event is None or run.event.event_name == event)
        and (branch is None or run.event.branch == branch)
    )


UNREADABLE = "this run's stored record cannot be read (written by an earlier release?)"


def unreadable_run(
    run_id: str, app: str, dedup_key: str, status: str, created_us: int, version: int
) -> Run:
    """The stand-in a listing shows for a stored run it cannot decode: what the row's
    own columns say, the message :data:`UNREADABLE` and ``unreadable`` set, so one such
    record never fails a page (its detail raises ``BackendError``; it is never updated)."""
    created = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=created_us)
    return Run(
        id=run_id,
        app=app,
        dedup_key=dedup_key,
        status=status if status in STATUSES else "error",
        event=Event(provider="unknown", event_name="manual"),
        created_at=created,
        message=UNREADABLE,
        version=version,
        unreadable=True,
    )
