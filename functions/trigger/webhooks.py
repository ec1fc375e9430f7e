"""``POST /webhooks/{app}``: verify, filter and accept a git provider's delivery.

Contract: unknown app 404, unsupported content type 415, body over the cap
413 (enforced while reading), bad or missing signature 401, malformed 400;
a ping answers ``{"pong": true}``, a filtered-out event ``{"ignored": reason}``,
a delivery id seen before ``{"run_id", "duplicate": true}`` (200, nothing
started) and a new accepted event 202 ``{"run_id", "status": "queued"}``.
Errors answer ``{"error", "detail"}`` as everywhere (``errors.py``).
Store and invoker work runs on the launcher's thread, off the event loop.

Two doors, one handler (``answer_webhook``): ``serve_webhook`` is a bare ASGI
handler that the trigger's front calls for this path without Starlette's
request, routing and middleware (the cost of a webhook is mostly framework
otherwise); ``receive_webhook`` serves the same answers as a Starlette
endpoint. This module imports Starlette only: it is on the cold-start path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from scd_core.errors import ScdError
from scd_trigger_spec import Accepted, Ignored, accept
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from functions.trigger.body import check_media_type, receive_body
from functions.trigger.errors import scd_error_response, unexpected_response
from functions.trigger.state import TriggerState, state_of

__all__ = ["WEBHOOK_MEDIA_TYPES", "answer_webhook", "receive_webhook", "serve_webhook"]

WEBHOOK_MEDIA_TYPES = frozenset({"application/json", "application/x-www-form-urlencoded"})

# Verifying an HMAC over a large body takes long enough to stall other requests.
_INLINE_BODY_BYTES = 256 * 1024
_QUEUED_HEAD, _QUEUED_TAIL = b'{"run_id":', b',"status":"queued"}'


def _queued(run_id: str) -> bytes:
    """``{"run_id": run_id, "status": "queued"}`` as compact JSON."""
    if run_id.isascii() and run_id.isalnum():  # every id of new_run_id: nothing to escape
        quoted = b'"' + run_id.encode("ascii") + b'"'
    else:
        quoted = json.dumps(run_id, ensure_ascii=False).encode("utf-8")
    return _QUEUED_HEAD + quoted + _QUEUED_TAIL


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


async def answer_webhook(
    state: TriggerState,
    name: str,
    headers: Mapping[str, str],
    receive: Receive,
) -> tuple[int, bytes]:
    """The status and JSON body answering a delivery to app ``name``.

    ``headers`` have lower-case names; the body is read from ASGI ``receive``.
    Raises the ``ScdError`` of a refused delivery, ``ClientDisconnect`` for a
    client gone before its body arrived.
    """
    spec = await state.app_async(name)
    check_media_type(headers.get("content-type", ""), WEBHOOK_MEDIA_TYPES)
    limit = state.settings.max_body_bytes
    body = await receive_body(receive, headers.get("content-length"), limit)
    if len(body) > _INLINE_BODY_BYTES:
        result = await run_in_threadpool(accept, spec, headers, body)
    else:
        result = accept(spec, headers, body)
    if isinstance(result, Ignored):
        return 200, _json({"ignored": result.reason})
    if not isinstance(result, Accepted):  # the provider's ping
        return 200, b'{"pong":true}'
    launched = await state.launcher.launch_async(spec, result)
    if not launched.created:
        return 200, _json({"run_id": launched.run.id, "duplicate": True})
    return 202, _queued(launched.run.id)


async def receive_webhook(request: Request) -> Response:
    """The Starlette endpoint: ``answer_webhook`` for a routed request."""
    headers = dict(request.headers.items())
    status, body = await answer_webhook(
        state_of(request), request.path_params["app"], headers, request.receive
    )
    return Response(body, status_code=status, media_type="application/json")


async def serve_webhook(
    state: TriggerState, name: str, scope: Scope, receive: Receive, send: Send
) -> None:
    """The bare ASGI door: answer ``POST /webhooks/{name}`` on ``send``.

    Answers every outcome as the Starlette endpoint and the app's error handlers
    would, with the same answers of ``errors.py``. A client gone before its body
    arrived gets nothing.
    """
    headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
    try:
        status, body = await answer_webhook(state, name, headers, receive)
    except ClientDisconnect:
        return
    except ScdError as exc:
        await scd_error_response(exc, "POST", f"/webhooks/{name}")(scope, receive, send)
        return
    except Exception:
        await unexpected_response("POST", f"/webhooks/{name}")(scope, receive, send)
        return
    # the headers a Starlette JSON Response sends, without building one
    length = str(len(body)).encode("ascii")
    headers_out = [(b"content-length", length), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers_out})
    await send({"type": "http.response.body", "body": body})
