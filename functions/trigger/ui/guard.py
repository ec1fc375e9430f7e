"""Who may see a dashboard page, and the plumbing every ``/ui`` route shares.

Contract: ``page(request, handler, scope)`` runs ``handler`` for a request with a
valid session whose live token carries ``scope``; without a session it
redirects to the log-in form (keeping the path to come back to), and an
``ScdError`` becomes an HTML error page with its status. ``data(request,
handler)`` is the same for JSON, event and download routes: 401 JSON without a
session. ``form(request)`` reads a small urlencoded form (400 otherwise);
``csrf_ok(expected, form)`` compares its ``csrf`` field in constant time.
Sessions are re-checked against the token store on every request.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlencode

from scd_core.errors import BadRequest, ScdError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from functions.trigger.auth import Scope, TokenSpec
from functions.trigger.body import read_body
from functions.trigger.errors import error_response, status_for
from functions.trigger.state import TriggerState, state_of
from functions.trigger.ui import pages
from functions.trigger.ui.access import check_scope, token_for_digest
from functions.trigger.ui.session import COOKIE, Session, Sessions

__all__ = [
    "Handler",
    "cookie_options",
    "csrf_ok",
    "data",
    "form",
    "page",
    "safe_next",
    "sessions",
    "who",
]

_FORM_MAX = 16 * 1024

Handler = Callable[[Request, TriggerState, Session, TokenSpec], Awaitable[Response]]


def sessions(request: Request, state: TriggerState) -> Sessions:
    """The app's session signer (its key made on first use under the data dir)."""
    found: Sessions | None = getattr(request.app.state, "scd_ui_sessions", None)
    if found is None:
        found = Sessions.for_dir(state.settings.data_dir)
        request.app.state.scd_ui_sessions = found
    return found


async def who(request: Request) -> tuple[TriggerState, Session, TokenSpec] | None:
    """The session of the request and its live token, or None."""
    state = state_of(request)
    session = sessions(request, state).read(request.cookies.get(COOKIE))
    if session is None:
        return None
    spec = await run_in_threadpool(token_for_digest, state, session.digest)  # may ask the store
    if spec is None or spec.name != session.name:
        return None  # revoked, or removed from scd.yaml
    return state, session, spec


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/ui/login?" + urlencode({"next": target}), status_code=303)


def safe_next(value: str | None) -> str:
    """``value`` if it is a path inside the dashboard, else ``/ui/``."""
    # Only a path inside the dashboard: never another host ("//evil", "/\\evil").
    if value and value.startswith("/ui/") and "\\" not in value and "//" not in value:
        return value
    return "/ui/"


async def form(request: Request) -> dict[str, str]:
    """The request's urlencoded form (first value of each field); BadRequest otherwise."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadRequest("expected a form (application/x-www-form-urlencoded)")
    body = await read_body(request, _FORM_MAX)
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("malformed form") from exc
    return {key: values[0] for key, values in fields.items()}


def csrf_ok(expected: str | None, fields: dict[str, str]) -> bool:
    """Whether the form's ``csrf`` field equals ``expected`` (constant time)."""
    given = fields.get("csrf", "")
    return bool(expected) and secrets.compare_digest(given.encode(), str(expected).encode())


def cookie_options(request: Request) -> dict[str, Any]:
    """The dashboard cookies' attributes: path /ui, HttpOnly, Lax, Secure over https."""
    return {
        "path": "/ui",
        "httponly": True,
        "samesite": "lax",
        "secure": request.url.scheme == "https",
    }


async def page(request: Request, handler: Handler, scope: Scope = "read") -> Response:
    """Run ``handler`` for a logged-in user with ``scope``; errors as an HTML page."""
    found = await who(request)
    if found is None:
        return _login_redirect(request)
    state, session, spec = found
    try:
        check_scope(spec, scope)
        return await handler(request, state, session, spec)
    except ScdError as exc:
        return pages.error(request, status_for(exc), str(exc), session)


async def data(request: Request, handler: Handler) -> Response:
    """Run ``handler`` for a logged-in user with ``read``; errors as JSON."""
    found = await who(request)
    if found is None:
        return error_response(401, "unauthorized", "log in first")
    state, session, spec = found
    try:
        return await handler(request, state, session, spec)
    except ScdError as exc:
        return error_response(status_for(exc), exc.code, str(exc))
