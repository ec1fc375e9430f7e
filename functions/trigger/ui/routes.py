"""The dashboard's routes under ``/ui``: log in, the runs table, a run with live logs.

Contract:

- ``GET /ui/login`` shows the form; ``POST /ui/login`` (form ``token``, ``csrf``,
  ``next``) checks the token like the API does (scope ``read``) and sets the
  session cookie (HttpOnly, SameSite=Lax, path ``/ui``; Secure over https); a
  bad token answers 401 with the form again. ``POST /ui/logout`` clears it.
- ``GET /ui/`` the runs table, 50 a page (``cursor`` as the API's), filtered by
  ``app``, ``status``, ``event``, ``branch``; ``GET /ui/runs.json`` the same rows
  as JSON, polled by the page every 2 s.
- ``GET /ui/runs/{id}`` a run: steps, live logs, cancel and rerun, a chart of
  the app's recent durations; ``GET /ui/runs/{id}/state.json`` its rows;
  ``GET /ui/runs/{id}/steps/{step}/events`` a step's log as server-sent events
  (``logstream.sse_events``, as the API's; resumable with ``Last-Event-ID``);
  ``GET /ui/runs/{id}/steps/{step}/log.txt`` the raw log as a text download
  (timestamps stripped, streamed in chunks).
- ``POST /ui/runs/{id}/cancel``, ``/rerun`` and ``/approve`` (scope ``trigger``) call
  the API's own ``cancel_run_now``, ``rerun_run`` and ``approvals.approve_run``, then
  redirect to the (new) run's page.
- The apps page and its "Run workflow" form: ``functions.trigger.ui.apps``.

Pages without a valid session redirect to the login page; JSON, event and
download routes answer 401. Every POST must carry the session's CSRF token (the
login form: the value of its own cookie), else 403. None of these routes is in
the OpenAPI document.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from scd_core.errors import AuthError, BadRequest, Forbidden, NotFound
from scd_core.logs import strip_timestamps
from scd_core.logsink import LogSink, validate_id
from scd_core.models import STATUSES
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from functions.trigger import approvals, apps_api, runs_api
from functions.trigger.auth import TokenSpec, hash_token
from functions.trigger.errors import status_for
from functions.trigger.logstream import sse_events
from functions.trigger.state import TriggerState, state_of
from functions.trigger.ui import pages
from functions.trigger.ui.access import login
from functions.trigger.ui.apps import router as apps_router
from functions.trigger.ui.guard import (
    cookie_options,
    csrf_ok,
    data,
    form,
    page,
    safe_next,
    sessions,
    who,
)
from functions.trigger.ui.session import COOKIE, LOGIN_COOKIE, SESSION_SECONDS, Session

__all__ = ["router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
router.include_router(apps_router)
_FILTERS = ("app", "status", "event", "branch")
_PAGE = 50
_RAW_CHUNK = 1 << 20


@router.get("", response_class=RedirectResponse)
async def ui_root() -> Response:
    """The dashboard lives at ``/ui/``."""
    return RedirectResponse("/ui/", status_code=307)


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    """The log-in form, with a fresh double-submit CSRF cookie."""
    value = secrets.token_urlsafe(24)
    response = pages.login(request, csrf=value, next_path=safe_next(next))
    response.set_cookie(LOGIN_COOKIE, value, max_age=3600, **cookie_options(request))
    return response


@router.post("/login")
async def login_submit(request: Request) -> Response:
    """Check the token and start a session; the form again, with the reason, if refused."""
    state = state_of(request)
    fields = await form(request)
    next_path = safe_next(fields.get("next"))
    if not csrf_ok(request.cookies.get(LOGIN_COOKIE), fields):
        return pages.refused(request, "the form expired or came from another site; reload it")
    token = fields.get("token", "")
    try:
        spec = await run_in_threadpool(login, state, token)
    except (AuthError, Forbidden) as exc:
        csrf = request.cookies.get(LOGIN_COOKIE, "")
        return pages.login(
            request, csrf=csrf, next_path=next_path, error=str(exc), status=status_for(exc)
        )
    value = sessions(request, state).issue(spec.name, hash_token(token.strip()))
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(COOKIE, value, max_age=SESSION_SECONDS, **cookie_options(request))
    response.delete_cookie(LOGIN_COOKIE, path="/ui")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (the form carries the session's CSRF token)."""
    fields = await form(request)
    found = await who(request)
    if found is not None and not csrf_ok(found[1].csrf, fields):
        return pages.refused(request, "missing or wrong CSRF token")
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


def _filters(request: Request) -> dict[str, str]:
    found = {key: request.query_params.get(key, "").strip() for key in _FILTERS}
    filters = {key: value for key, value in found.items() if value}
    if filters.get("status") and filters["status"] not in STATUSES:
        raise BadRequest(f"unknown status {filters['status']!r}")
    return filters


def _runs(
    state: TriggerState, filters: dict[str, str], cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    from functions.trigger.ui.views import run_row

    runs, next_cursor = state.launcher.store.list_runs(limit=_PAGE, cursor=cursor, **filters)
    return [run_row(run) for run in runs], next_cursor


def _cursor(request: Request) -> str | None:
    return request.query_params.get("cursor") or None


@router.get("/")
async def runs_page(request: Request) -> Response:
    """The runs table, newest first, with the filters of the query string."""

    async def handler(
        request: Request, state: TriggerState, session: Session, spec: TokenSpec
    ) -> Response:
        filters = _filters(request)
        rows, next_cursor = await run_in_threadpool(_runs, state, filters, _cursor(request))
        older = urlencode({**filters, "cursor": next_cursor}) if next_cursor else None
        merged = await run_in_threadpool(apps_api.merged_apps, state)
        names = sorted(app.name for app, _ in merged)
        return pages.runs(request, session, spec, rows, filters, names, STATUSES, older)

    return await page(request, handler)


@router.get("/runs.json")
async def runs_json(request: Request) -> Response:
    """The runs table's rows as JSON (the page polls this every 2 s)."""

    async def handler(
        request: Request, state: TriggerState, session: Session, spec: TokenSpec
    ) -> Response:
        filters, cursor = _filters(request), _cursor(request)
        rows, next_cursor = await run_in_threadpool(_runs, state, filters, cursor)
        return JSONResponse({"runs": rows, "next_cursor": next_cursor})

    return await data(request, handler)


@router.get("/runs/{run_id}")
async def run_page(run_id: str, request: Request) -> Response:
    """One run: its steps with live logs, cancel and rerun, the app's recent durations."""

    async def handler(
        request: Request, state: TriggerState, session: Session, spec: TokenSpec
    ) -> Response:
        validate_id("run id", run_id)
        detail = await run_in_threadpool(pages.run_detail, state, run_id)
        return pages.run(request, session, spec, detail)

    return await page(request, handler)


@router.get("/runs/{run_id}/state.json")
async def run_state(run_id: str, request: Request) -> Response:
    """The run's row and its steps' rows as JSON (the run page polls this)."""

    async def handler(
        request: Request, state: TriggerState, session: Session, spec: TokenSpec
    ) -> Response:
        validate_id("run id", run_id)
        detail = await run_in_threadpool(pages.run_detail, state, run_id, False)
        return JSONResponse({"run": detail["run"], "steps": detail["steps"], "dag": detail["dag"]})

    return await data(request, handler)


@router.get("/runs/{run_id}/steps/{step}/events")
async def step_events(run_id: str, step: str, request: Request) -> Response:
    """A step's log as server-sent events, from ``Last-Event-ID`` (a byte offset) on."""

    async def handler(
        request: Request, state: TriggerState, session: Session, spec: TokenSpec
    ) -> Response:
        validate_id("run id", run_id)
        validate_id("step", step)
        offset = _offset(request.headers.get("last-event-id"))
        store, sink = state.launcher.store, runs_api.sink_of(request, state)
        key = await run_in_threadpool(runs_api.step_key, store, sink, run_id, step)
        events = sse_events(sink, store, run_id, key, offset)
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)

    return await data(request, handler)


@router.get("/runs/{run_id}/steps/{step}/log.txt")
async def step_raw_log(run_id: str, step: str, request: Request) -> Response:
    """The step's whole stored log as a plain-text download, without timestamps."""

    async def handler(
        request: Request, state: TriggerState, session: Session, spec: TokenSpec
    ) -> Response:
        validate_id("run id", run_id)
        validate_id("step", step)
        store, sink = state.launcher.store, runs_api.sink_of(request, state)
        key = await run_in_threadpool(runs_api.step_key, store, sink, run_id, step)
        name = f"scd-{run_id[:12]}-{key}.log"
        headers = {
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        }
        chunks = _raw_chunks(sink, run_id, key)
        return StreamingResponse(chunks, media_type="text/plain; charset=utf-8", headers=headers)

    return await data(request, handler)


def _raw_chunks(sink: LogSink, run_id: str, key: str) -> Iterator[bytes]:
    """The stored log from its start to its current end, a chunk at a time (a sync
    generator: Starlette reads it in a worker thread)."""
    offset = 0
    while True:
        try:
            chunk = sink.read(run_id, key, offset, _RAW_CHUNK)
        except NotFound:
            return  # recorded, nothing logged yet
        if not chunk.data:
            return
        yield strip_timestamps(chunk.data)
        offset = chunk.offset


def _offset(value: str | None) -> int:
    if not value:
        return 0
    if not value.isdigit() or len(value) > 18:
        raise BadRequest("Last-Event-ID must be a byte offset")
    return int(value)


async def _act(request: Request, run_id: str, action: str) -> Response:
    async def handler(
        request: Request, state: TriggerState, session: Session, spec: TokenSpec
    ) -> Response:
        fields = await form(request)
        if not csrf_ok(session.csrf, fields):
            return pages.refused(request, "missing or wrong CSRF token")
        validate_id("run id", run_id)
        if action == "cancel":
            await run_in_threadpool(runs_api.cancel_run_now, state, run_id)
            return RedirectResponse(f"/ui/runs/{run_id}", status_code=303)
        if action == "approve":
            await run_in_threadpool(approvals.approve_run, state, run_id, spec.name)
            return RedirectResponse(f"/ui/runs/{run_id}", status_code=303)
        run = await run_in_threadpool(runs_api.rerun_run, state, run_id)
        return RedirectResponse(f"/ui/runs/{run.id}", status_code=303)

    return await page(request, handler, "trigger")


@router.post("/runs/{run_id}/cancel")
async def ui_cancel(run_id: str, request: Request) -> Response:
    """Cancel the run (scope ``trigger``, CSRF checked), then show it."""
    return await _act(request, run_id, "cancel")


@router.post("/runs/{run_id}/rerun")
async def ui_rerun(run_id: str, request: Request) -> Response:
    """Start a rerun of the run (scope ``trigger``, CSRF checked), then show the new run."""
    return await _act(request, run_id, "rerun")


@router.post("/runs/{run_id}/approve")
async def ui_approve(run_id: str, request: Request) -> Response:
    """Approve a fork's run waiting for approval (scope ``trigger``, CSRF checked)."""
    return await _act(request, run_id, "approve")


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The dashboard's own scripts and style sheet (a fixed list: no paths)."""
    return pages.static(name)
