"""The FastAPI application: OpenAPI document, docs, and routes other than the hot ones.

Contract: ``build_api(state)`` returns a FastAPI app sharing ``state`` that
serves and documents every route of the trigger (the webhook, manual run,
timer and health endpoints are the same Starlette handlers the front serves).
``app.create_app``'s front builds it on the first request it does not serve
itself (``/openapi.json``, ``/docs`` and any router added here), so a cold start
that only receives webhooks never imports FastAPI. Add new routers here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from functions.trigger import (
    approvals,
    apps_api,
    logstream,
    manual,
    report_api,
    runs_api,
    timers,
    tokens_api,
    ui,
    webhooks,
)
from functions.trigger.answers import EventIgnored, Health, Pong, RunDuplicate, RunQueued
from functions.trigger.errors import ERROR_RESPONSES, install_api
from functions.trigger.manual import ManualRequest
from functions.trigger.schedules import TimerEvent
from functions.trigger.state import TriggerState

__all__ = ["build_api"]

_WEBHOOK_BODY = {
    "application/json": {"schema": {"type": "object"}},
    "application/x-www-form-urlencoded": {
        "schema": {"type": "object", "properties": {"payload": {"type": "string"}}}
    },
}


def _body(content: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": content}}


async def _webhook(app: str, request: Request) -> Response:
    return await webhooks.receive_webhook(request)


async def _manual(app: str, request: Request) -> Response:
    return await manual.start_manual_run(request)


async def _invoke(request: Request) -> Response:
    return await timers.invoke(request)


async def _healthz() -> dict[str, bool]:
    """Liveness: the process answers."""
    return {"ok": True}


def build_api(state: TriggerState) -> FastAPI:
    """The documented FastAPI app over ``state``."""
    api = FastAPI(
        title="scd trigger",
        summary="Webhooks, manual runs and schedules for scd pipelines.",
        version="0.1.0",
    )
    api.state.scd = state
    # tokens created through the API count too (the hot routes need app.py to do this)
    state.config.tokens.attach(state.launcher.store)
    install_api(api)
    api.add_middleware(runs_api.DotSegmentGuard)
    api.add_api_route(
        "/webhooks/{app}",
        _webhook,
        methods=["POST"],
        status_code=202,
        response_model=RunQueued,
        responses={
            200: {
                "description": "ping, filtered out, or a duplicate delivery",
                "model": RunDuplicate | EventIgnored | Pong,
            },
            **ERROR_RESPONSES,
        },
        openapi_extra=_body(_WEBHOOK_BODY),
        summary="Receive a git provider's webhook delivery",
        description=webhooks.__doc__,
    )
    api.add_api_route(
        "/api/v1/apps/{app}/runs",
        _manual,
        methods=["POST"],
        status_code=202,
        response_model=RunQueued,
        responses={
            200: {"description": "this Idempotency-Key ran before", "model": RunDuplicate},
            **ERROR_RESPONSES,
        },
        openapi_extra={
            **_body({"application/json": {"schema": ManualRequest.model_json_schema()}}),
            "security": [{"HTTPBearer": []}],
        },
        summary="Start a run of an app by hand",
        description=manual.__doc__,
    )
    api.add_api_route(
        "/invoke",
        _invoke,
        methods=["POST"],
        status_code=202,
        response_model=RunQueued,
        responses={
            200: {
                "description": "a schedule's own timer: this tick ran before; "
                'the minute tick (payload {"scd": "tick"}): what it fired',
                "model": RunDuplicate | timers.TickAnswer,
            },
            **ERROR_RESPONSES,
        },
        openapi_extra={
            **_body({"application/json": {"schema": TimerEvent.model_json_schema()}}),
            "security": [{"HTTPBearer": []}],
        },
        summary="Function Compute timer trigger: start a scheduled run",
        description=timers.__doc__,
    )
    api.add_api_route("/healthz", _healthz, methods=["GET"], response_model=Health)
    api.include_router(runs_api.router)
    api.include_router(approvals.router)
    api.include_router(report_api.router)
    api.include_router(logstream.router)
    api.include_router(apps_api.router)
    api.include_router(tokens_api.router)
    api.include_router(ui.router)
    return api
