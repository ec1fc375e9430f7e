"""``POST /invoke``: Function Compute's timer trigger starts a scheduled run.

Contract: trusted when FC sent it (``x-fc-control-path: /invoke`` with
``Settings.trust_fc_headers``), else it needs a bearer token with the
``trigger`` scope (401/403). The body is FC's timer event (400 naming the
field); the trigger maps to an app's schedule as ``schedules.resolve_timer``
says (404 otherwise). One tick (``triggerTime``) starts one run however often
FC delivers it: 202 ``{"run_id", "status"}`` the first time, 200
``{"run_id", "duplicate": true}`` after. Answers carry ``x-fc-status``, which
FC reads to judge an event invocation: 200 on success, 404 (a failed
invocation, which FC retries when it was asynchronous) on any error.
"""

from __future__ import annotations

from pydantic import ValidationError
from scd_core.errors import BadRequest, ScdError
from scd_trigger_spec import schedule_event
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.trigger.body import read_body
from functions.trigger.errors import describe_validation, error_response, status_for
from functions.trigger.schedules import TimerEvent, resolve_timer, utc
from functions.trigger.state import state_of

__all__ = ["invoke"]

_MAX_BODY = 64 * 1024


async def invoke(request: Request) -> Response:
    """Map an FC timer event to an app's schedule and start that tick's run once."""
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
    app, cron = resolve_timer(state.config.apps, event.triggerName, event.payload)
    tick = utc(event.triggerTime)
    accepted = schedule_event(app, cron=cron, tick=tick, trigger_name=event.triggerName)
    launched = await state.launcher.launch_async(app, accepted)
    headers = {"x-fc-status": "200"}
    if not launched.created:
        return JSONResponse({"run_id": launched.run.id, "duplicate": True}, headers=headers)
    body_out = {"run_id": launched.run.id, "status": "queued"}
    return JSONResponse(body_out, status_code=202, headers=headers)
