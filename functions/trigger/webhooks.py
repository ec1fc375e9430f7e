"""``POST /webhooks/{app}``: verify, filter and accept a git provider's delivery.

Contract: unknown app 404, unsupported content type 415, body over the cap
413 (enforced while reading), bad or missing signature 401, malformed 400;
a ping answers ``{"pong": true}``, a filtered-out event ``{"ignored": reason}``,
a delivery id seen before ``{"run_id", "duplicate": true}`` (200, nothing
started) and a new accepted event 202 ``{"run_id", "status": "queued"}``.
Store and invoker work runs on the launcher's thread, off the event loop.
This module imports Starlette only: it is on the cold-start path. The 202
answer, sent for every accepted delivery, is assembled from pre-encoded bytes.
"""

from __future__ import annotations

import json

from scd_trigger_spec import Accepted, Ignored, accept
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.trigger.body import read_body, require_media_type
from functions.trigger.state import state_of

__all__ = ["WEBHOOK_MEDIA_TYPES", "receive_webhook"]

WEBHOOK_MEDIA_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded"})

# Verifying an HMAC over a large body takes long enough to stall other requests.
_INLINE_BODY_BYTES = 256 * 1024
_QUEUED_HEAD, _QUEUED_TAIL = b'{"run_id":', b',"status":"queued"}'


def _queued(run_id: str) -> Response:
    """``JSONResponse({"run_id": run_id, "status": "queued"}, 202)``, byte for byte."""
    if run_id.isascii() and run_id.isalnum():  # every id of new_run_id: nothing to escape
        quoted = b'"' + run_id.encode("ascii") + b'"'
    else:
        quoted = json.dumps(run_id, ensure_ascii=False).encode("utf-8")
    body = _QUEUED_HEAD + quoted + _QUEUED_TAIL
    return Response(body, status_code=202, media_type="application/json")


async def receive_webhook(request: Request) -> Response:
    """Verify the delivery's signature, match the app's trigger spec, start a run."""
    state = state_of(request)
    spec = await state.app_async(request.path_params["app"])
    require_media_type(request, WEBHOOK_MEDIA_TYPES)
    body = await read_body(request, state.settings.max_body_bytes)
    headers = request.headers
    if len(body) > _INLINE_BODY_BYTES:
        result = await run_in_threadpool(accept, spec, headers, body)
    else:
        result = accept(spec, headers, body)
    if isinstance(result, Ignored):
        return JSONResponse({"ignored": result.reason})
    if not isinstance(result, Accepted):  # the provider's ping
        return JSONResponse({"pong": True})
    launched = await state.launcher.launch_async(spec, result)
    if not launched.created:
        return JSONResponse({"run_id": launched.run.id, "duplicate": True})
    return _queued(launched.run.id)
