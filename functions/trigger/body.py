"""Reading request bodies with a size cap enforced while reading.

Contract: ``read_body(request, limit)`` returns the raw body bytes, byte-exact
(signatures are computed over them). A ``Content-Length`` over the limit is
refused before reading anything; a body without one (chunked) is refused as
soon as the bytes read pass the limit, so at most ``limit`` plus one chunk is
ever held. ``media_type(request)`` gives the lower-cased content type without
parameters, or ``""``.
"""

from __future__ import annotations

from scd_core.errors import BadRequest, PayloadTooLarge
from starlette.requests import Request

from functions.trigger.errors import UnsupportedMediaType

__all__ = ["media_type", "read_body", "require_media_type"]


def media_type(request: Request) -> str:
    """The request's content type without parameters, lower-cased."""
    raw = request.headers.get("content-type", "")
    return raw.split(";", 1)[0].strip().lower()


def require_media_type(request: Request, allowed: frozenset[str]) -> str:
    """Return the media type, or raise ``UnsupportedMediaType`` if not in ``allowed``."""
    kind = media_type(request)
    if kind not in allowed:
        shown = kind or "none"
        raise UnsupportedMediaType(
            f"content type {shown!r} is not supported; send one of {', '.join(sorted(allowed))}"
        )
    return kind


async def read_body(request: Request, limit: int) -> bytes:
    """Read the whole body, raising ``PayloadTooLarge`` once it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if size > limit:
            raise PayloadTooLarge(f"body of {size} bytes is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
