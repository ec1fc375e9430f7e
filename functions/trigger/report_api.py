"""Deliveries of a run (commit statuses, callbacks, notifications) and status badges.

Contract:

- ``GET /api/v1/runs/{id}/deliveries`` (``read``) → ``{"run_id", "deliveries": [...]}``
  in the order they were queued: id, kind (``status``, ``callback``, ``notify``),
  target (a status context, a callback URL without its query, a notifier), the
  change that queued it, state (``pending delivered failed superseded``), attempts,
  the last HTTP code and error, times. Never a body, a header or a secret. 404 for
  an unknown run.
- ``POST /api/v1/runs/{id}/deliveries/{delivery}/redeliver`` (``trigger``) queues the
  delivery again, due now (with the same ``X-Scd-Delivery`` id); 202 with the
  delivery; 404 if the run has no such delivery.
- ``GET /badge/{app}.svg[?branch=]`` (no token): an SVG badge with the status word
  of the app's last run (of ``branch``), ``no runs`` before the first. 404 for an
  unknown app or one with ``badge: false``. ``Cache-Control: max-age=30``; the
  process keeps each (app, branch) answer ``BADGE_CACHE_S`` seconds.

The outbox is ``<data_dir>/outbox.db``, the file the process's couriers share.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from scd_core.errors import NotFound
from scd_core.logsink import validate_id
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from functions.report.outbox import Outbox
from functions.report.wiring import OUTBOX_FILE
from functions.trigger.errors import ERROR_RESPONSES
from functions.trigger.runs_api import needs
from functions.trigger.state import TriggerState, state_of

__all__ = ["BADGE_CACHE_S", "BADGE_MAX_AGE_S", "badge_svg", "outbox_of", "router"]

router = APIRouter(tags=["deliveries"])
BADGE_MAX_AGE_S = 30
BADGE_CACHE_S = 2.0  # a README viewed by many reads the store once per app and interval
_BADGE_ENTRIES = 1024
_badges: dict[tuple[int, str, str], tuple[float, str]] = {}
_READ = Depends(needs("read"))
_TRIGGER = Depends(needs("trigger"))
_outboxes: dict[Path, Outbox] = {}
_lock = threading.Lock()
_COLOURS = {
    "success": "#2ea043",
    "failure": "#cf222e",
    "error": "#cf222e",
    "cancelled": "#6e7781",
    "skipped": "#6e7781",
    "running": "#bf8700",
    "queued": "#bf8700",
    "pending": "#bf8700",
    "paused": "#bf8700",
}


def outbox_of(state: TriggerState) -> Outbox:
    """The outbox of the trigger's data dir (opened once per process)."""
    path = Path(state.settings.data_dir).resolve() / OUTBOX_FILE
    with _lock:
        if path not in _outboxes:
            _outboxes[path] = Outbox(path)
        return _outboxes[path]


@router.get(
    "/api/v1/runs/{run_id}/deliveries",
    responses={**ERROR_RESPONSES},
    summary="What was sent about a run: commit statuses, callbacks, notifications",
)
async def list_deliveries(run_id: str, state: TriggerState = _READ) -> JSONResponse:
    """The run's delivery log (scope ``read``)."""
    validate_id("run id", run_id)

    def load() -> list[dict[str, Any]]:
        state.launcher.store.get_run(run_id)  # NotFound for an unknown run
        return [d.public() for d in outbox_of(state).of_run(run_id)]

    return JSONResponse({"run_id": run_id, "deliveries": await run_in_threadpool(load)})


@router.post(
    "/api/v1/runs/{run_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    responses={**ERROR_RESPONSES},
    summary="Send a delivery again",
)
async def redeliver(run_id: str, delivery_id: str, state: TriggerState = _TRIGGER) -> JSONResponse:
    """Queue the delivery again, due now (scope ``trigger``)."""
    validate_id("run id", run_id)

    def again() -> dict[str, Any]:
        outbox = outbox_of(state)
        found = outbox.get(delivery_id)
        if found is None or found.run_id != run_id:
            raise NotFound(f"run {run_id} has no delivery {delivery_id!r}")
        queued = outbox.redeliver(delivery_id)
        if queued is None:  # deleted in between
            raise NotFound(f"run {run_id} has no delivery {delivery_id!r}")
        return queued.public()

    return JSONResponse(await run_in_threadpool(again), status_code=202)


def badge_svg(label: str, word: str) -> str:
    """A flat two-part badge: ``label`` on grey, ``word`` on its status colour."""
    colour = _COLOURS.get(word, "#6e7781")
    left, right = 6 * len(label) + 12, 6 * len(word) + 12
    width = left + right
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img"'
        f' aria-label="{label}: {word}"><title>{label}: {word}</title>'
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif"'
        ' font-size="11">'
        f'<text x="{left / 2}" y="14">{label}</text>'
        f'<text x="{left + right / 2}" y="14">{word}</text></g></svg>'
    )


@router.get(
    "/badge/{name}.svg",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}, "description": "the badge"},
        **ERROR_RESPONSES,
    },
    summary="An app's status badge",
)
async def badge(request: Request, name: str, branch: str | None = Query(None)) -> Response:
    """The last run's status word as an SVG badge (no token needed)."""
    state = state_of(request)
    app = await state.app_async(name)  # NotFound for an unknown app
    if not app.badge:
        raise NotFound(f"no app named {name!r}")

    key = (id(state), app.name, branch or "")
    cached = _badges.get(key)
    if cached is not None and cached[0] > time.monotonic():
        word = cached[1]
    else:

        def last() -> str:
            store = state.launcher.store
            runs, _ = store.list_runs(app=app.name, branch=branch or None, limit=1)
            return runs[0].status if runs else "no runs"

        word = await run_in_threadpool(last)
        if len(_badges) >= _BADGE_ENTRIES:  # any branch name is a key: stay bounded
            _badges.clear()
        _badges[key] = (time.monotonic() + BADGE_CACHE_S, word)
    svg = badge_svg("scd", word)
    headers = {"Cache-Control": f"public, max-age={BADGE_MAX_AGE_S}"}
    return Response(svg, media_type="image/svg+xml", headers=headers)
