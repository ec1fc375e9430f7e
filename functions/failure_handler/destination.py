"""FC's destination payload, read into the job FC gave up on and the reason it did.

FC posts a record to the ``onFailure`` destination when an async invocation of
the worker fails (it timed out, its instance crashed, it answered an error) or
expires in the queue (reference/FC.md section 2.4): ``requestContext``
(``requestId``, ``functionArn``, ``condition``), ``requestPayload`` (the body the
worker was invoked with, as a string: the job), ``responseContext``
(``statusCode``, ``functionError``) and ``responsePayload`` (the worker's answer
or FC's ``{"errorMessage": ...}``). ``parse(body)`` gives a ``Failure``; a body
that is not such a record, or names no job, raises ``BadRequest`` saying why.
Pure functions: no I/O, safe from any thread.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from scd_core.errors import BadRequest
from scd_core.invokers.fc import job_id_of
from scd_core.models import Job

__all__ = ["Failure", "parse", "reason"]

_MAX_REASON = 300
_TIMED_OUT = re.compile(r"timed? ?out after (\d+(?:\.\d+)?)\s*(?:s\b|sec|second)", re.IGNORECASE)


@dataclass(frozen=True)
class Failure:
    """The task FC gave up on (its run, task and attempt) and why, in words."""

    run_id: str
    task: str | None  # None: the job could not be read, only its run is known
    attempt: int
    reason: str


def parse(body: bytes) -> Failure:
    """The failure a destination record describes (see the module doc)."""
    try:
        record: Any = json.loads(body)
    except ValueError as exc:
        raise BadRequest("the body is not JSON (expected FC's destination record)") from exc
    if not isinstance(record, dict):
        raise BadRequest("the body is not FC's destination record (a JSON object)")
    context = _object(record, "requestContext")
    response = _object(record, "responseContext")
    why = reason(str(context.get("condition") or ""), _error_message(record), response)
    job = _job(record.get("requestPayload"))
    if job is not None:
        return Failure(job.run, job.task, job.attempt, why)
    # Not a job body: the task id (when FC names one) still leads to the job.
    task_id = context.get("asyncTaskId") or record.get("asyncTaskId")
    job_id = job_id_of(task_id) if isinstance(task_id, str) else None
    if job_id is None:
        raise BadRequest("the destination record names no scd job (requestPayload, task id)")
    return Failure(job_id, None, 0, why)


def reason(condition: str, message: str, response: dict[str, Any]) -> str:
    """FC's reason for giving up, as a run's message says it.

    A timeout reads "worker timed out after N s"; an event too old in FC's queue
    reads so; any other failure is the instance's crash or error with FC's words.
    """
    if condition == "EventAgeExceeded" or "expired" in message.lower():
        return "the job waited in Function Compute's queue past its maximum event age"
    timed_out = _TIMED_OUT.search(message)
    if timed_out:
        return f"worker timed out after {float(timed_out.group(1)):g} s"
    status = response.get("statusCode")
    kind = str(response.get("functionError") or "")
    detail = message or kind or (f"HTTP {status}" if status else "no answer")
    if "crash" in detail.lower():
        return detail[:_MAX_REASON]
    if kind == "HandledInvocationError" and status:
        return f"worker failed: answered {status}: {detail}"[:_MAX_REASON]
    return f"instance crashed: {detail}"[:_MAX_REASON]


def _object(record: dict[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"{key} is not an object in FC's destination record")
    return value


def _error_message(record: dict[str, Any]) -> str:
    """FC's ``errorMessage`` from the response payload, or the payload's text."""
    raw = record.get("responsePayload")
    if not isinstance(raw, str) or not raw:
        return ""
    try:
        answer: Any = json.loads(raw)
    except ValueError:
        return raw[:_MAX_REASON]
    if isinstance(answer, dict):
        for key in ("errorMessage", "error", "message"):
            if isinstance(answer.get(key), str):
                return str(answer[key])[:_MAX_REASON]
    return raw[:_MAX_REASON]


def _job(payload: object) -> Job | None:
    if not isinstance(payload, str) or not payload:
        return None
    try:
        return Job.model_validate_json(payload)
    except ValidationError:
        return None
