"""The dashboard's apps page and its "Run workflow" form.

Contract:

- ``GET /ui/apps`` (scope ``read``): every app (scd.yaml's, then the API's) with
  its webhook URL (a copy button), trigger summary, last run, the success rate
  and duration trend of its ``TREND_RUNS`` most recent runs, and what its runs on
  Function Compute cost this month (``functions.trigger.ui.costs``). Sessions whose token
  has the ``trigger`` scope see a "Run workflow" form for apps allowing manual runs.
- ``POST /ui/apps/{app}/runs`` (scope ``trigger``, the session's CSRF token): form
  ``ref`` and ``inputs`` (one ``key=value`` per line) start a manual run exactly as
  ``POST /api/v1/apps/{app}/runs`` does (same validation, same event), then
  redirect to the new run's page. A bad field is a 400 page naming it.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from scd_core.billing import prices
from scd_core.errors import BadRequest
from scd_trigger_spec import manual_event
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from functions.trigger import apps_api
from functions.trigger.auth import TokenSpec
from functions.trigger.errors import describe_validation
from functions.trigger.manual import ManualRequest
from functions.trigger.state import TriggerState
from functions.trigger.ui import pages
from functions.trigger.ui.costs import month_cost
from functions.trigger.ui.guard import csrf_ok, form, page
from functions.trigger.ui.session import Session
from functions.trigger.ui.views import app_row

__all__ = ["TREND_RUNS", "parse_inputs", "router"]

router = APIRouter()
TREND_RUNS = 20
_MAX_INPUTS = 50


def _rows(state: TriggerState, base_url: str) -> list[dict[str, Any]]:
    store, rows = state.launcher.store, []
    table = prices(state.settings.fc_prices)
    for app, _ in apps_api.merged_apps(state):
        runs, _ = store.list_runs(app=app.name, limit=TREND_RUNS)
        row = app_row(app, f"{base_url.rstrip('/')}/webhooks/{app.name}", runs)
        row["month_cost"] = month_cost(store, app.name, table)
        rows.append(row)
    return rows


@router.get("/apps")
async def apps_page(request: Request) -> Response:
    """Every app with its webhook URL, triggers, last run and recent trend."""

    async def handler(
        request: Request, state: TriggerState, session: Session, spec: TokenSpec
    ) -> Response:
        rows = await run_in_threadpool(_rows, state, str(request.base_url))
        return pages.apps(request, session, spec, rows)

    return await page(request, handler)


def parse_inputs(text: str) -> dict[str, str]:
    """``key=value`` lines (blank lines skipped) as a dict; BadRequest naming a bad line."""
    inputs: dict[str, str] = {}
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n")]
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise BadRequest(f"inputs line {number}: expected key=value, got {line[:60]!r}")
        inputs[key.strip()] = value
    if len(inputs) > _MAX_INPUTS:
        raise BadRequest(f"at most {_MAX_INPUTS} inputs")
    return inputs


@router.post("/apps/{app}/runs")
async def run_workflow(app: str, request: Request) -> Response:
    """Start a manual run of ``app`` from the form, then show it."""

    async def handler(
        request: Request, state: TriggerState, session: Session, spec: TokenSpec
    ) -> Response:
        fields = await form(request)
        if not csrf_ok(session.csrf, fields):
            return pages.refused(request, "missing or wrong CSRF token")
        found = await state.app_async(app)  # NotFound: 404 page
        inputs = parse_inputs(fields.get("inputs", ""))
        raw = {"ref": fields.get("ref", "").strip(), "inputs": inputs}
        try:
            wanted = ManualRequest.model_validate(raw)
        except ValidationError as exc:
            raise BadRequest(describe_validation(exc.errors(include_input=False))) from None
        accepted = manual_event(  # Forbidden when the app says manual: false
            found, ref=wanted.ref, commit=None, inputs=wanted.inputs, request_id=uuid.uuid4().hex
        )
        launched = await state.launcher.launch_async(found, accepted)
        return RedirectResponse(f"/ui/runs/{launched.run.id}", status_code=303)

    return await page(request, handler, "trigger")
