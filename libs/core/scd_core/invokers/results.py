"""The plain data of the local invoker: policy, attempts, results and FC's task view.

``InvocationResult`` is what the on-success and on-failure callbacks receive; its
``destination_payload`` is the record FC sends to an async destination.
``AsyncTask`` mirrors FC 3.0's GetAsyncTask answer (``model_dump(by_alias=True)``
gives FC's camelCase names).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scd_core.models import Job

__all__ = [
    "AsyncTask",
    "AsyncTaskEvent",
    "Attempt",
    "Condition",
    "InvocationResult",
    "Policy",
    "TaskStatus",
]

TaskStatus = Literal[
    "Enqueued", "Running", "Succeeded", "Failed", "Stopped", "Stopping", "Expired", "Retrying"
]
# why a task reached a destination (AWS Lambda's words, which FC's records follow)
Condition = Literal["Success", "RetriesExhausted", "EventAgeExceeded", "Stopped"]

_MAX_BACKOFF_S = 300.0


@dataclass(frozen=True)
class Policy:
    """FC's async invoke config: retries on a function error, event age, lease, backoff."""

    max_retries: int = 0
    max_event_age_s: float = 86400.0
    lease_s: float = 30.0
    retry_backoff_s: float = 1.0

    def backoff(self, attempts: int) -> float:
        """Seconds to wait before retry number ``attempts`` (doubling, capped)."""
        delay = self.retry_backoff_s * 2.0 ** max(attempts - 1, 0)
        return min(delay, max(self.retry_backoff_s, _MAX_BACKOFF_S))


@dataclass(frozen=True)
class Attempt:
    """The outcome of one delivery.

    ``status_code`` is the function's status (``x-fc-status`` when the worker sent
    one, else the HTTP status), None when no answer came. ``error_type`` is FC's
    ``HandledInvocationError`` (the function answered a failure),
    ``UnhandledInvocationError`` (no usable answer: refused, reset, timed out, lost)
    or ``EventExpired``. ``body`` is the answer, truncated.
    """

    ok: bool
    status_code: int | None = None
    error_type: str | None = None
    error: str | None = None
    body: str = ""


@dataclass(frozen=True)
class InvocationResult:
    """The final outcome of a task, handed to ``on_success`` or ``on_failure``.

    ``status`` is the task's final FC status; ``attempts`` counts deliveries made
    (0 for a task that expired before any); ``error_message`` is the reason to show
    a user ("expired in queue", "worker lost: ...", "HTTP 500 from ...").
    ``timestamp`` is in seconds since the epoch.
    """

    task_id: str
    status: TaskStatus
    condition: Condition
    attempts: int
    request_id: str | None
    endpoint: str | None
    status_code: int | None
    error_type: str | None
    error_message: str | None
    response_body: str
    function_arn: str
    timestamp: float

    def destination_payload(self, job: Job) -> dict[str, Any]:
        """The record FC sends to an on-success or on-failure destination (FC.md §2.4)."""
        when = datetime.fromtimestamp(self.timestamp, timezone.utc)
        return {
            "timestamp": when.isoformat().replace("+00:00", "Z"),
            "requestContext": {
                "requestId": self.request_id,
                "functionArn": self.function_arn,
                "condition": self.condition,
                "approximateInvokeCount": self.attempts,
            },
            "requestPayload": job.model_dump_json(),
            "responseContext": {
                "statusCode": self.status_code,
                "functionError": self.error_type or "",
            },
            "responsePayload": self.response_body,
        }


class AsyncTaskEvent(BaseModel):
    """One transition of a task (FC's ``AsyncTaskEvent``); ``timestamp`` in ms."""

    model_config = ConfigDict(populate_by_name=True)

    event_id: int = Field(alias="eventId")
    status: str
    timestamp: int | None
    event_detail: str = Field(alias="eventDetail")


class AsyncTask(BaseModel):
    """A task as FC 3.0's GetAsyncTask answers it; times are ms since the epoch.

    ``started_time`` is the first delivery's start (None while never delivered),
    ``instance_id`` the endpoint of the last delivery, ``return_payload`` its answer.
    """

    model_config = ConfigDict(populate_by_name=True)

    task_id: str = Field(alias="taskId")
    request_id: str | None = Field(default=None, alias="requestId")
    status: TaskStatus
    already_retried_times: int = Field(default=0, alias="alreadyRetriedTimes")
    started_time: int | None = Field(default=None, alias="startedTime")
    end_time: int | None = Field(default=None, alias="endTime")
    duration_ms: int | None = Field(default=None, alias="durationMs")
    events: list[AsyncTaskEvent] = Field(default_factory=list)
    function_arn: str = Field(alias="functionArn")
    qualifier: str = "LATEST"
    instance_id: str | None = Field(default=None, alias="instanceId")
    task_error_message: str | None = Field(default=None, alias="taskErrorMessage")
    return_payload: str | None = Field(default=None, alias="returnPayload")
    task_payload: str | None = Field(default=None, alias="taskPayload")
