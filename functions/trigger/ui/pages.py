"""Rendering the dashboard: jinja2 templates (autoescaped), static files, page data.

Contract: every page answer is HTML rendered from ``templates/`` with autoescape
on and a Content-Security-Policy allowing only this origin's scripts and
styles (no inline script), so text from an event (a commit message, a branch)
can never run as code. ``static(name)`` serves only the files listed in
``_STATIC``. ``run_detail(state, run_id)`` gathers a run page's data.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from scd_core.billing import bill_tasks, prices
from scd_core.errors import NotFound
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from functions.trigger.auth import TokenSpec
from functions.trigger.state import TriggerState
from functions.trigger.ui.costs import cost_text
from functions.trigger.ui.dag import dag_layout
from functions.trigger.ui.session import Session
from functions.trigger.ui.views import chart, open_steps, run_row, run_usage, step_row

__all__ = ["apps", "error", "login", "refused", "run", "run_detail", "runs", "static"]

_HERE = Path(__file__).resolve().parent
_STATIC = {
    "ui.css": "text/css; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
    "runs.js": "text/javascript; charset=utf-8",
    "run.js": "text/javascript; charset=utf-8",
    "apps.js": "text/javascript; charset=utf-8",
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_CHART_RUNS = 30


@cache
def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _who(session: Session | None, spec: TokenSpec | None = None) -> dict[str, Any]:
    return {
        "user": session.name if session else None,
        "csrf": session.csrf if session else "",
        "can_trigger": bool(spec and spec.allows("trigger")),
    }


def login(
    request: Request, *, csrf: str, next_path: str, error: str = "", status: int = 200
) -> HTMLResponse:
    """The log-in form (``error`` says why the last try was refused)."""
    context = {**_who(None), "csrf": csrf}
    return _render("login.html", status, next_path=next_path, error=error, **context)


def refused(request: Request, why: str) -> HTMLResponse:
    """403: a POST without the right CSRF token."""
    return _render("error.html", 403, title="Refused", message=why, **_who(None))


def error(request: Request, status: int, message: str, session: Session | None) -> HTMLResponse:
    """An error page for a page route (the message is one of scd's, secret-free)."""
    titles = {400: "Bad request", 403: "Forbidden", 404: "Not found", 409: "Conflict"}
    title = titles.get(status, "Error")
    return _render("error.html", status, title=title, message=message, **_who(session))


def runs(
    request: Request,
    session: Session,
    spec: TokenSpec,
    rows: list[dict[str, Any]],
    filters: dict[str, str],
    apps: Sequence[str],
    statuses: Sequence[str],
    older: str | None = None,
) -> HTMLResponse:
    """The runs table (``older``: the query string of the next page, if any)."""
    return _render(
        "runs.html",
        rows=rows,
        filters=filters,
        apps=apps,
        statuses=statuses,
        events=("push", "tag", "pull_request", "schedule", "manual"),
        query=str(request.url.query),
        older=older,
        **_who(session, spec),
    )


def run(request: Request, session: Session, spec: TokenSpec, detail: dict[str, Any]) -> Response:
    """A run's page: the first failed step open and scrolled to, or the running ones."""
    opened, focus = open_steps(detail["run"]["status"], detail["steps"])
    return _render("run.html", **detail, opened=opened, focus=focus, **_who(session, spec))


def apps(
    request: Request, session: Session, spec: TokenSpec, rows: list[dict[str, Any]]
) -> Response:
    """The apps page (``rows``: ``views.app_row`` of each app)."""
    return _render("apps.html", apps=rows, **_who(session, spec))


def run_detail(state: TriggerState, run_id: str, with_chart: bool = True) -> dict[str, Any]:
    """The run's row, its steps' rows and (optionally) the chart of its app's recent runs."""
    store = state.launcher.store
    found = store.get_run(run_id)
    states = store.list_steps(run_id)
    steps = [step_row(step) for step in states]
    row = run_row(found)
    row["usage"] = run_usage(states)
    table = prices(state.settings.fc_prices)
    row["cost"] = cost_text(bill_tasks(found.tasks, table), table)
    detail: dict[str, Any] = {"run": row, "steps": steps}
    detail["dag"] = dag_layout(found.tasks)
    if with_chart:
        recent, _ = store.list_runs(app=found.app, limit=_CHART_RUNS)
        detail["chart"] = chart(recent, current=run_id)
        detail["deliveries"] = _deliveries(state, run_id)
    return detail


def _deliveries(state: TriggerState, run_id: str) -> list[dict[str, Any]]:
    """The run's commit statuses, callbacks and notifications, as the API lists them."""
    from functions.report.wiring import OUTBOX_FILE
    from functions.trigger.report_api import outbox_of

    if not (Path(state.settings.data_dir) / OUTBOX_FILE).exists():
        return []  # nothing was ever queued here: do not create the file for a page view
    return [d.public() for d in outbox_of(state).of_run(run_id, limit=50)]


def static(name: str) -> Response:
    """One of the dashboard's static files; 404 for any other name."""
    media = _STATIC.get(name)
    if media is None:
        raise NotFound(f"no static file {name!r}")
    body = (_HERE / "static" / name).read_bytes()
    headers = {"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type=media, headers=headers)
