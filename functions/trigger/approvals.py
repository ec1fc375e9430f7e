"""Approval of a fork's runs: ``forks: {approve: true}`` holds each pull request from a
fork until a person lets it run (with the app's secrets), as Woodpecker does.

Contract: the launcher (and a rerun) calls :func:`hold_if_needed` right after recording
a run: a fork's run of an app with ``forks.approve`` (and not ``forks.secrets``) is held
``paused`` with the message :data:`AWAITING_APPROVAL` and no job is dispatched; it
answers whether it held the run. ``POST /api/v1/runs/{id}/approve`` (scope ``trigger``)
records the approving token's name on the run, queues it and dispatches its job: 202
``{"run_id", "status": "queued"}``; 409 when the run is not waiting for approval. A held
run is cancelled like any other (``/cancel``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from scd_core.errors import Conflict
from scd_core.lifecycle import Lifecycle
from scd_core.logsink import validate_id
from scd_core.models import Run
from scd_trigger_spec import App
from starlette.concurrency import run_in_threadpool

from functions.trigger.errors import ERROR_RESPONSES
from functions.trigger.state import TriggerState, state_of

__all__ = ["AWAITING_APPROVAL", "approve_run", "hold_if_needed", "router"]

AWAITING_APPROVAL = "waiting for approval"

router = APIRouter(tags=["runs"])


def hold_if_needed(lifecycle: Lifecycle, app: App, run: Run) -> Run | None:
    """The run held for approval, or None when ``run`` may be dispatched now."""
    if not (run.event.fork and app.forks.approve and not app.forks.secrets):
        return None
    if run.approved_by is not None:
        return None
    return lifecycle.hold(run.id, AWAITING_APPROVAL)


def approve_run(state: TriggerState, run_id: str, by: str) -> Run:
    """Queue a run held for approval and dispatch its job (blocking)."""
    from functions.trigger.launcher import job_for

    launcher = state.launcher
    approved = launcher.lifecycle.approve(run_id, AWAITING_APPROVAL, by)
    if approved is None:
        status = launcher.store.get_run(run_id).status  # NotFound for an unknown run
        raise Conflict(f"run {run_id} is not waiting for approval ({status})")
    launcher.invoker.dispatch(job_for(state.app(approved.app), approved))
    return approved


@router.post(
    "/api/v1/runs/{run_id}/approve",
    status_code=202,
    responses={409: {"description": "the run is not waiting for approval"}, **ERROR_RESPONSES},
    summary="Let a fork's run that waits for approval run, with the app's secrets",
)
async def approve(run_id: str, request: Request) -> JSONResponse:
    """Approve the run (scope ``trigger``): the token's name is recorded on it."""
    state = state_of(request)
    token = await state.config.tokens.require_async(request.headers.get("authorization"), "trigger")
    validate_id("run id", run_id)
    run = await run_in_threadpool(approve_run, state, run_id, token.name)
    return JSONResponse({"run_id": run.id, "status": run.status}, status_code=202)
