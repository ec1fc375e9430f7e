"""``/api/v1/tokens``: create, list and revoke API tokens (scope ``admin``).

Contract:

- ``POST /api/v1/tokens`` with ``{"name", "scopes"}`` → 201 ``TokenCreated``: the
  token's value is in this answer only; the store keeps its SHA-256. 409 when
  the name is taken (by scd.yaml or an earlier token, even a revoked one).
- ``GET /api/v1/tokens`` → ``TokenList``: scd.yaml's tokens, then the store's,
  with their scopes and whether they are revoked; never a value or a digest.
- ``DELETE /api/v1/tokens/{name}`` → 204: the token fails from the next request
  on. 409 for a token of scd.yaml (remove it there), 404 for an unknown one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from scd_core.errors import Conflict
from scd_core.models import utcnow
from starlette.concurrency import run_in_threadpool

from functions.trigger.auth import SCOPES, Scope, hash_token, new_token
from functions.trigger.errors import ERROR_RESPONSES, ErrorBody
from functions.trigger.runs_api import needs
from functions.trigger.state import TriggerState
from functions.trigger.views import TokenCreated, TokenList, TokenView

__all__ = ["NewToken", "router"]

router = APIRouter(tags=["tokens"])
_CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorBody, "description": "conflict"}}


class NewToken(BaseModel):
    """The token to create: a unique name and at least one scope."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))


_ADMIN = Depends(needs("admin"))


@router.post(
    "/api/v1/tokens",
    status_code=201,
    response_model=TokenCreated,
    responses={**_CONFLICT, **ERROR_RESPONSES},
    summary="Create an API token (its value is shown once)",
)
async def create_token(wanted: NewToken, state: TriggerState = _ADMIN) -> JSONResponse:
    """Record a new token's digest and answer its value (scope ``admin``)."""
    if state.config.tokens.named(wanted.name) is not None:
        raise Conflict(f"token {wanted.name!r} is defined in scd.yaml")
    scopes = [scope for scope in SCOPES if scope in wanted.scopes]
    token = new_token()
    await run_in_threadpool(
        state.launcher.store.put_token, wanted.name, hash_token(token), scopes, utcnow()
    )
    answer = TokenCreated(name=wanted.name, token=token, scopes=scopes)
    return JSONResponse(answer.model_dump(mode="json"), status_code=201)


@router.get(
    "/api/v1/tokens",
    response_model=TokenList,
    responses={**ERROR_RESPONSES},
    summary="Every API token, without values",
)
async def list_tokens(state: TriggerState = _ADMIN) -> JSONResponse:
    """scd.yaml's tokens, then the store's (scope ``admin``)."""
    views = [
        TokenView(name=spec.name, scopes=list(spec.scopes), source="config", created_at=None)
        for spec in state.config.tokens.specs
    ]
    records = await run_in_threadpool(state.launcher.store.list_tokens)
    views += [
        TokenView(
            name=r.name,
            scopes=list(r.scopes),
            source="api",
            created_at=r.created_at,
            revoked=r.revoked,
        )
        for r in records
        if state.config.tokens.named(r.name) is None
    ]
    return JSONResponse(TokenList(tokens=views).model_dump(mode="json"))


@router.delete(
    "/api/v1/tokens/{name}",
    status_code=204,
    response_class=Response,
    responses={**_CONFLICT, **ERROR_RESPONSES},
    summary="Revoke an API token at once",
)
async def revoke_token(name: str, state: TriggerState = _ADMIN) -> Response:
    """Mark the token revoked (scope ``admin``); 409 for one of scd.yaml."""
    if state.config.tokens.named(name) is not None:
        raise Conflict(f"token {name!r} is defined in scd.yaml; remove it there")
    await run_in_threadpool(state.launcher.store.revoke_token, name)
    return Response(status_code=204)
