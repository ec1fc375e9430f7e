"""``POST /invoke``: Function Compute's timer triggers start scheduled runs.

Contract: trusted when FC sent it (``x-fc-control-path: /invoke`` with
``Settings.trust_fc_headers``), else it needs a bearer token with the
``trigger`` scope (401/403). The body is FC's timer event (400 naming the
field). Two kinds of timer (``functions.trigger.schedules`` defines them):

- the minute tick (``payload`` ``{"scd": "tick"}``) fires every app's due
  schedules, scd.yaml's and the API's, each fire time once however often FC
  delivers the tick: 200 ``{"tick", "fired": [{"app", "cron", "at", "run_id"}],
  "already": n}`` (``already``: due fire times claimed before, by an earlier
  delivery or a PUT that started the schedule after them). One schedule's
  failure does not stop the others; the answer is then the first error.
- a schedule's own timer maps to one app schedule as ``resolve_timer`` says
  (404 otherwise); one ``triggerTime`` starts one run: 202 ``{"run_id",
  "status"}`` the first time, 200 ``{"run_id", "duplicate": true}`` after.

Answers carry ``x-fc-status``, which FC reads to judge an event invocation: 200
on success, 404 (a failed invocation, which FC retries when it was
asynchronous) on any error; a retried minute tick fires only what the failed
one had not claimed.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ValidationError
from scd_core.errors import BadRequest, ScdError
from scd_trigger_spec import Accepted, App, schedule_event
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.trigger.body import read_body
from functions.trigger.errors import describe_validation, error_response, status_for
from functions.trigger.schedules import (
    Tick,
    TimerEvent,
    is_minute_tick,
    resolve_timer,
    tick_due,
    tick_key,
    utc,
)
from functions.trigger.state import TriggerState, state_of

__all__ = ["TickAnswer", "TickFired", "invoke", "minute_tick"]

log = logging.getLogger("scd.trigger.schedule")

_MAX_BODY = 64 * 1024


class TickFired(BaseModel):
    """One run a minute tick started: the schedule and its fire time."""

    app: str
    cron: str
    at: str
    run_id: str


class TickAnswer(BaseModel):
    """200 to a minute tick: what it fired, and how many due fire times were claimed before."""

    tick: str
    fired: list[TickFired]
    already: int


async def invoke(request: Request) -> Response:
    """Start the runs an FC timer event stands for (see the module doc)."""
    try:
        return await _invoke(request)
    except ScdError as exc:
        failed = error_response(status_for(exc), exc.code, str(exc))
        failed.headers["x-fc-status"] = "404"
        return failed


async def _invoke(request: Request) -> Response:
    state = state_of(request)
    from_fc = request.headers.get("x-fc-control-path") == "/invoke"
    if not (from_fc and state.settings.trust_fc_headers):
        await state.config.tokens.require_async(request.headers.get("authorization"), "trigger")
    body = await read_body(request, _MAX_BODY)
    try:
        event = TimerEvent.model_validate_json(body)
    except ValidationError as exc:
        raise BadRequest(describe_validation(exc.errors(include_input=False))) from None
    headers = {"x-fc-status": "200"}
    if is_minute_tick(event.payload):
        answer = await run_in_threadpool(minute_tick, state, event)
        return JSONResponse(answer, headers=headers)
    app, cron = resolve_timer(state.config.apps, event.triggerName, event.payload)
    tick = utc(event.triggerTime)
    accepted = schedule_event(app, cron=cron, tick=tick, trigger_name=event.triggerName)
    launched = await state.launcher.launch_async(app, accepted)
    if not launched.created:
        return JSONResponse({"run_id": launched.run.id, "duplicate": True}, headers=headers)
    body_out = {"run_id": launched.run.id, "status": "queued"}
    return JSONResponse(body_out, status_code=202, headers=headers)


def minute_tick(state: TriggerState, event: TimerEvent) -> dict[str, Any]:
    """Fire the schedules due at the minute tick ``event``; the answer's body. Blocking.

    Claims each due fire time (``claim_once``), then records every claimed run
    in one store write. Raises the first ``ScdError`` after trying every
    schedule; a claimed fire time whose run could not be recorded is lost.
    """
    from functions.trigger.catalogue import merged_apps

    store = state.launcher.store
    apps = {app.name: app for app, _ in merged_apps(state)}
    tick, due = tick_due(apps.values(), event.triggerTime)
    claimed: list[tuple[Tick, App, Accepted]] = []
    already = 0
    errors: list[ScdError] = []
    for fire in due:
        try:
            won = store.claim_once(tick_key(fire.app, fire.cron, fire.at))
        except ScdError as exc:
            errors.append(exc)
            continue
        if not won:
            already += 1
            continue
        app = apps[fire.app]
        claimed.append((fire, app, schedule_event(app, cron=fire.cron, tick=fire.at)))
    outcomes = (
        state.launcher.launch_many([(app, acc) for _, app, acc in claimed]) if claimed else []
    )
    fired: list[dict[str, str]] = []
    for (fire, _, _), outcome in zip(claimed, outcomes, strict=True):
        if isinstance(outcome, ScdError):
            log.error("minute tick %s: %s lost its run of %s: %s", tick, fire.app, fire.at, outcome)
            errors.append(outcome)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            at = fire.at.isoformat()
            fired.append({"app": fire.app, "cron": fire.cron, "at": at, "run_id": outcome.run.id})
    if errors:
        raise errors[0]
    return {"tick": tick.isoformat(), "fired": fired, "already": already}
