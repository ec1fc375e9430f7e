"""``/api/v1/apps``: the apps of scd.yaml and those registered through the API.

Contract:

- ``GET /api/v1/apps`` (scope ``read``) → ``AppList``; ``GET /api/v1/apps/{app}``
  (``read``) → ``AppView`` or 404.
- ``PUT /api/v1/apps/{app}`` (``admin``): the body is one app mapping exactly as
  in scd.yaml (``name`` may be left out; if given it must equal the path),
  validated by scd.yaml's own code, so a problem is 400 naming the field. 201
  when created, 200 when replaced; 409 for a name scd.yaml defines (config wins).
  Values are taken literally: ``${env:NAME}`` is not expanded for API apps. A
  ``repo`` git would misread is refused (``scd_trigger_spec.repourl``), and so is a
  local one (``file://`` or a path) unless ``Settings.allow_local_repos``.
- ``DELETE /api/v1/apps/{app}`` (``admin``) → 204; 409 for an app of scd.yaml,
  404 for an unknown one. Its runs stay readable.

Each ``AppView`` lists the app's schedules with their next fire time
(``schedules``, ``next_schedule_at``). A PUT that adds or changes a cron starts
that schedule at the PUT: it claims the fire times that precede it
(``schedules.claim_started``) and wakes this process's scheduler, so ``scd
serve`` fires it from then on and a missed tick of the new cron is never
caught up; a DELETE stops the app's schedules (within seconds in every
process, at once in this one).

Apps are merged at request time, scd.yaml's first, through ``TriggerState.find``
(``functions.trigger.state``: stored apps cached a few seconds, dropped at
once on a PUT or DELETE in this process). An API app's webhook secret
(and its ``secrets`` and ``checkout_token``) is kept in the run store's app row,
which is the secret's home on Function Compute too; it is never returned by any
route, nor put in an error message.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse
from scd_core.errors import BadRequest, ConfigError, Conflict
from scd_core.models import utcnow
from scd_core.store import RunStore
from scd_trigger_spec import App
from scd_trigger_spec.repourl import is_local_repo
from scd_trigger_spec.spec import lone_surrogate
from starlette.concurrency import run_in_threadpool

from functions.appconfig import parse_config
from functions.trigger.catalogue import merged_apps
from functions.trigger.errors import ERROR_RESPONSES, ErrorBody
from functions.trigger.runs_api import needs
from functions.trigger.schedules import claim_started, next_fire, schedules_of
from functions.trigger.state import Source, TriggerState
from functions.trigger.views import AppList, AppView, ScheduleView, app_view

__all__ = ["find_app", "merged_apps", "router", "validate_app"]

router = APIRouter(tags=["apps"])
_CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorBody, "description": "conflict"}}
_WHERE = re.compile(r"^.*?:\d+:\d+: (?:apps\[0\](?:\.|: )?)?")
_APP_BODY = Body(
    description="one app mapping exactly as in scd.yaml",
    openapi_examples={
        "web": {
            "value": {
                "repo": "https://github.com/acme/web.git",
                "provider": "github",
                "secret": "a-webhook-secret",
                "trigger": {"push": {"branches": ["main"]}},
            }
        }
    },
)


def validate_app(name: str, spec: dict[str, Any]) -> App:
    """``spec`` validated as app ``name`` of scd.yaml; ``BadRequest`` naming each field."""
    if spec.get("name", name) != name:
        raise BadRequest("name: must equal the app name in the path")
    # A lone surrogate (a JSON escape) cannot be YAML text: name its field here, as
    # App's own check would, rather than let the YAML reader call it "invalid YAML".
    where = lone_surrogate({**spec, "name": name})
    if where is not None:
        raise BadRequest(f"{where}: strings must be valid Unicode (no lone surrogates)")
    text = json.dumps({"apps": [{**spec, "name": name}]}, ensure_ascii=False)
    try:
        config = parse_config(text, "body", environ={})
    except ConfigError as exc:
        problems = [_WHERE.sub("", line) for line in str(exc).splitlines()]
        raise BadRequest("; ".join(problems)) from None
    return config.apps[name]


def find_app(state: TriggerState, name: str) -> tuple[App, Source]:
    """The app called ``name`` (scd.yaml's first, then the store's), or ``NotFound``:
    ``TriggerState.find``, the one lookup every route uses. Blocking."""
    return state.find(name)


def _view(store: RunStore, app: App, source: Source, base_url: str) -> AppView:
    runs, _ = store.list_runs(app=app.name, limit=1)
    url = f"{base_url.rstrip('/')}/webhooks/{app.name}"
    last = runs[0] if runs else None
    return app_view(app, source=source, webhook_url=url, last_run=last, schedules=_schedules(app))


def _schedules(app: App) -> list[ScheduleView]:
    now = utcnow()
    return [
        ScheduleView(cron=s.cron, name=s.name, ref=s.ref, next_at=next_fire(s.cron, now))
        for s in app.trigger.schedule
    ]


def _wake_scheduler(request: Request) -> None:
    """Have this process's scheduler (``scd serve``) look at the catalogue now."""
    scheduler = getattr(request.app.state, "scd_scheduler", None)
    if scheduler is not None:
        scheduler.wake()


_READ = Depends(needs("read"))
_ADMIN = Depends(needs("admin"))


@router.get(
    "/api/v1/apps",
    response_model=AppList,
    responses={**ERROR_RESPONSES},
    summary="Every app, from scd.yaml and from the API",
)
async def list_apps(request: Request, state: TriggerState = _READ) -> JSONResponse:
    """The apps with their webhook URL and last run (scope ``read``)."""
    base = str(request.base_url)

    def answer() -> AppList:
        store = state.launcher.store
        return AppList(apps=[_view(store, app, src, base) for app, src in merged_apps(state)])

    return JSONResponse((await run_in_threadpool(answer)).model_dump(mode="json"))


@router.get(
    "/api/v1/apps/{app}",
    response_model=AppView,
    responses={**ERROR_RESPONSES},
    summary="One app",
)
async def get_app(app: str, request: Request, state: TriggerState = _READ) -> JSONResponse:
    """The app with its webhook URL and last run (scope ``read``)."""
    base = str(request.base_url)

    def answer() -> AppView:
        found, source = find_app(state, app)
        return _view(state.launcher.store, found, source, base)

    return JSONResponse((await run_in_threadpool(answer)).model_dump(mode="json"))


@router.put(
    "/api/v1/apps/{app}",
    response_model=AppView,
    responses={
        201: {"model": AppView, "description": "the app was created"},
        **_CONFLICT,
        **ERROR_RESPONSES,
    },
    summary="Create or replace an app registered through the API",
)
async def put_app(
    app: str, request: Request, state: TriggerState = _ADMIN, spec: dict[str, Any] = _APP_BODY
) -> JSONResponse:
    """Validate and store the app (scope ``admin``); 201 when new, 200 when replaced."""
    if app in state.config.apps:
        raise Conflict(f"app {app!r} is defined in scd.yaml; change it there")
    # off the event loop: a large app spec takes a while to validate
    validated = await run_in_threadpool(validate_app, app, spec)
    if not state.settings.allow_local_repos and is_local_repo(validated.repo):
        raise BadRequest("repo: local repositories are not allowed on this server")
    base = str(request.base_url)

    grace = timedelta(seconds=state.settings.scheduler_grace_seconds)

    def store_it() -> tuple[AppView, bool]:
        store = state.launcher.store
        # Claims first: a scheduler that sees the new cron finds its past fire times taken.
        claim_started(store, validated, _crons(store.get_app(app), app), utcnow(), grace)
        created = store.put_app(app, {**spec, "name": app})
        state.forget(app)
        return _view(store, validated, "api", base), created

    view, created = await run_in_threadpool(store_it)
    _wake_scheduler(request)
    return JSONResponse(view.model_dump(mode="json"), status_code=201 if created else 200)


@router.delete(
    "/api/v1/apps/{app}",
    status_code=204,
    response_class=Response,
    responses={**_CONFLICT, **ERROR_RESPONSES},
    summary="Delete an app registered through the API",
)
async def delete_app(app: str, request: Request, state: TriggerState = _ADMIN) -> Response:
    """Remove the app (scope ``admin``); its runs stay readable."""
    if app in state.config.apps:
        raise Conflict(f"app {app!r} is defined in scd.yaml; remove it there")
    try:
        await run_in_threadpool(state.launcher.store.delete_app, app)
    finally:
        state.forget(app)
        _wake_scheduler(request)
    return Response(status_code=204)


def _crons(spec: dict[str, Any] | None, name: str) -> list[str]:
    """The crons of a stored spec; none when absent or no longer valid (all are new then)."""
    if spec is None:
        return []
    try:
        return schedules_of(App.model_validate({**spec, "name": name}))
    except ValueError:
        return []
