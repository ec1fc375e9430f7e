"""The FC double's async task record, and the two shapes FC shows it in.

``Task`` is one async invocation: its payload, FC status and event history
(``move``). ``task_view`` is GetAsyncTask's answer (FC 3.0's ``AsyncTask``,
camelCase, times in ms); ``destination_record`` is what FC posts to an async
destination (reference/FC.md section 2.4). Not thread-safe: the double guards
its tasks with its own lock.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = ["FINAL", "Task", "destination_record", "task_view"]

FINAL = ("Succeeded", "Failed", "Stopped", "Expired")


@dataclass
class Task:
    """One async task; ``conn`` is its delivery's connection while it runs."""

    task_id: str
    request_id: str
    payload: bytes
    enqueued: float
    state: str = "Enqueued"  # FC's status word (not named status: only runs have those)
    events: list[dict[str, Any]] = field(default_factory=list)
    started: float | None = None
    ended: float | None = None
    error: str | None = None
    answer: str | None = None
    destination_status: str | None = None
    conn: http.client.HTTPConnection | None = None

    def move(self, status: str, detail: str = "") -> None:
        """Enter ``status``, recorded as an event; a final status sets ``ended``."""
        self.state = status
        now = time.time()
        if status in FINAL:
            self.ended = now
        if status == "Running":
            self.started = now
        event = {"eventId": len(self.events), "status": status, "eventDetail": detail}
        self.events.append({**event, "timestamp": int(now * 1000)})


def task_view(task: Task, arn: str) -> dict[str, Any]:
    """The task as GetAsyncTask answers it."""
    end = int(task.ended * 1000) if task.ended else None
    start = int(task.started * 1000) if task.started else None
    return {
        "taskId": task.task_id,
        "requestId": task.request_id,
        "status": task.state,
        "destinationStatus": task.destination_status,
        "alreadyRetriedTimes": 0,
        "startedTime": start,
        "endTime": end,
        "durationMs": end - start if end and start else None,
        "events": list(task.events),
        "functionArn": arn,
        "qualifier": "LATEST",
        "taskErrorMessage": task.error,
        "returnPayload": task.answer,
        "taskPayload": task.payload.decode("utf-8", "replace"),
    }


def destination_record(
    task: Task, arn: str, condition: str, status: int | None, error_type: str, message: str
) -> dict[str, Any]:
    """FC's destination payload for ``task``, which ended for ``condition``."""
    return {
        "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "requestContext": {
            "requestId": task.request_id,
            "functionArn": arn,
            "condition": condition,
            "approximateInvokeCount": 0 if condition == "EventAgeExceeded" else 1,
        },
        "requestPayload": task.payload.decode("utf-8", "replace"),
        "responseContext": {"statusCode": status, "functionError": error_type},
        "responsePayload": json.dumps({"errorMessage": message}),
    }
