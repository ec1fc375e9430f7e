"""``POST /api/v1/apps/{app}/runs``: start a run by hand, with an API token.

Contract: the bearer token is checked first (401 missing or invalid, 403
without the ``trigger`` scope), then the app (404; 403 when its trigger spec
says ``manual: false``), then the body ``{"ref", "commit"?, "inputs"?}``
(400 naming the field). An ``Idempotency-Key`` header is the request id, so
repeating a request answers ``{"run_id", "duplicate": true}`` (200) instead of
starting a second run; without it every request starts a run (202).
"""

from __future__ import annotations

import re
import uuid

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scd_core.errors import BadRequest, Forbidden
from scd_core.models import new_dict
from scd_trigger_spec import manual_event
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from functions.trigger.body import read_body, require_media_type
from functions.trigger.errors import describe_validation
from functions.trigger.state import state_of

__all__ = ["ManualRequest", "start_manual_run"]

_MAX_BODY = 1024 * 1024
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


class ManualRequest(BaseModel):
    """What to run: a ref, optionally an exact commit, and string inputs."""

    # built on first use: not on a webhook's cold start
    model_config = ConfigDict(extra="forbid", defer_build=True)

    ref: str = Field(min_length=1, max_length=1024)
    commit: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{7,64}$")
    inputs: dict[str, str] = Field(default_factory=new_dict)


async def start_manual_run(request: Request) -> Response:
    """Authenticate, validate and record a manual run, then dispatch it."""
    state = state_of(request)
    await state.config.tokens.require_async(request.headers.get("authorization"), "trigger")
    name = request.path_params["app"]
    spec = await state.app_async(name)
    if not spec.trigger.manual:
        raise Forbidden(f"app {name!r} does not allow manual runs (trigger.manual is false)")
    require_media_type(request, frozenset({"application/json"}))
    body = await read_body(request, _MAX_BODY)
    try:
        wanted = ManualRequest.model_validate_json(body)
    except ValidationError as exc:
        raise BadRequest(describe_validation(exc.errors(include_input=False))) from None
    accepted = manual_event(
        spec,
        ref=wanted.ref,
        commit=wanted.commit,
        inputs=wanted.inputs,
        request_id=_request_id(request.headers.get("idempotency-key")),
    )
    launched = await state.launcher.launch_async(spec, accepted)
    if not launched.created:
        return JSONResponse({"run_id": launched.run.id, "duplicate": True})
    return JSONResponse({"run_id": launched.run.id, "status": "queued"}, status_code=202)


def _request_id(key: str | None) -> str:
    if key is None:
        return uuid.uuid4().hex
    if not _IDEMPOTENCY_KEY.match(key):
        raise BadRequest("Idempotency-Key must be 1 to 200 printable ASCII characters")
    return key
