"""The success answers of the trigger's endpoints, as models for the OpenAPI document.

Handlers build these answers as plain JSON on the hot path; the models exist
so ``/openapi.json`` describes exactly what is sent.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

__all__ = ["EventIgnored", "Health", "Pong", "RunDuplicate", "RunQueued"]


class RunQueued(BaseModel):
    """202: a new run was recorded and handed to the invoker."""

    run_id: str
    status: Literal["queued"] = "queued"


class RunDuplicate(BaseModel):
    """200: this delivery or request id was seen before; nothing new started."""

    run_id: str
    duplicate: Literal[True] = True


class EventIgnored(BaseModel):
    """200: the event was valid but the trigger spec filters it out."""

    ignored: str


class Pong(BaseModel):
    """200: a provider's ping."""

    pong: Literal[True] = True


class Health(BaseModel):
    """200: the process serves requests."""

    ok: Literal[True] = True
