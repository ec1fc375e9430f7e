"""Bounded work per API request: who asks is known before a body is read, and no body
makes the server parse more than a few thousand keys or nest deeper than a few dozen.

Contract: ``guard_api(state, scope, receive, send)`` is awaited by the front for every
``POST``, ``PUT`` and ``PATCH`` under ``/api/`` before the route runs. It answers the
request itself, and returns None, when:

- the ``Authorization`` header names no live token (401; the body is never read — the
  route still checks the token's scope);
- the body passes :data:`MAX_API_BODY` bytes (413: a ``Content-Length`` over it is
  refused before reading, a chunked body as soon as the running total passes it);
- the JSON nests deeper than :data:`MAX_DEPTH` or holds more than :data:`MAX_KEYS` keys
  (400 naming the limit), judged by a scan of the bytes before any parser builds objects.

Otherwise it returns a ``receive`` that replays the body it read, for the route. The scan
of a body over :data:`_INLINE_SCAN` bytes runs in a worker thread, so the event loop keeps
answering (``/healthz`` and webhooks) while a large body is judged. Webhooks are not
guarded here: their signature is checked over the whole body, capped by
``Settings.max_body_bytes``.
"""

from __future__ import annotations

import re

from scd_core.errors import AuthError, BadRequest, ScdError
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from functions.trigger.body import receive_body
from functions.trigger.errors import error_response, status_for
from functions.trigger.state import TriggerState

__all__ = [
    "MAX_API_BODY",
    "MAX_DEPTH",
    "MAX_KEYS",
    "guard_api",
    "guarded",
    "json_shape_problem",
]

MAX_API_BODY = 1024 * 1024
MAX_DEPTH = 64
MAX_KEYS = 10_000
_INLINE_SCAN = 64 * 1024
_GUARDED = frozenset({"POST", "PUT", "PATCH"})
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def json_shape_problem(body: bytes) -> str | None:
    """Why ``body`` is too deep or too wide to parse, or None (malformed JSON is left to
    the parser, which says what is wrong with it)."""
    bare = _STRING.sub(b'""', body)  # a key or bracket inside a string is text
    if bare.count(b":") > MAX_KEYS:
        return f"the JSON body holds more than {MAX_KEYS} keys"
    if bare.count(b"[") + bare.count(b"{") <= MAX_DEPTH:
        return None  # too few brackets to nest too deep
    depth = 0
    for match in _BRACKETS.finditer(bare):
        depth += 1 if match.group() in (b"[", b"{") else -1
        if depth > MAX_DEPTH:
            return f"the JSON body nests deeper than {MAX_DEPTH} levels"
    return None


async def guard_api(
    state: TriggerState, scope: Scope, receive: Receive, send: Send
) -> Receive | None:
    """See the module docstring: the ``receive`` to hand on, or None once answered."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    try:
        await state.config.tokens.require_async(headers.get("authorization"), "read")
    except ScdError as exc:
        if isinstance(exc, AuthError):
            await _answer(exc, scope, receive, send)
            return None
        # a valid token without the read scope: the route judges its own scope
    try:
        body = await receive_body(receive, headers.get("content-length"), MAX_API_BODY)
        scan = json_shape_problem
        problem = scan(body) if len(body) <= _INLINE_SCAN else await run_in_threadpool(scan, body)
        if problem is not None:
            raise BadRequest(f"{problem}; send a smaller document")
    except ScdError as exc:
        await _answer(exc, scope, receive, send)
        return None
    return _replay(body, receive)


def guarded(scope: Scope) -> bool:
    """Whether ``scope`` is a request ``guard_api`` judges."""
    return (
        scope["type"] == "http"
        and scope["method"] in _GUARDED
        and str(scope["path"]).startswith("/api/")
    )


async def _answer(exc: ScdError, scope: Scope, receive: Receive, send: Send) -> None:
    await error_response(status_for(exc), exc.code, str(exc))(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # a disconnect, when the client goes

    return replay
