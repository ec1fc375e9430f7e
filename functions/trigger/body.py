"""Reading request bodies with a size cap enforced while reading.

Contract: ``read_body(request, limit)`` returns the raw body bytes, byte-exact
(signatures are computed over them); ``receive_body(receive, declared, limit)``
is the same for a bare ASGI handler (``declared``: the ``Content-Length`` header
or None). A client gone before the end of its body raises ``ClientDisconnect``.
A ``Content-Length`` over the limit is
refused before reading anything; a body without one (chunked) is refused as
soon as the bytes read pass the limit, so at most ``limit`` plus one chunk is
ever held. ``media_type(request)`` gives the lower-cased content type without
parameters, or ``""``; ``check_media_type`` refuses one not allowed.
"""

from __future__ import annotations

from scd_core.errors import BadRequest, PayloadTooLarge
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive

from functions.trigger.errors import UnsupportedMediaType

__all__ = ["check_media_type", "media_type", "read_body", "receive_body", "require_media_type"]


def _bare_type(raw: str) -> str:
    return raw.split(";", 1)[0].strip().lower()


def media_type(request: Request) -> str:
    """The request's content type without parameters, lower-cased."""
    return _bare_type(request.headers.get("content-type", ""))


def check_media_type(content_type: str, allowed: frozenset[str]) -> str:
    """The bare media type of a ``Content-Type`` value, or ``UnsupportedMediaType``
    if it is not in ``allowed``."""
    kind = _bare_type(content_type)
    if kind not in allowed:
        shown = kind or "none"
        raise UnsupportedMediaType(
            f"content type {shown!r} is not supported; send one of {', '.join(sorted(allowed))}"
        )
    return kind


def require_media_type(request: Request, allowed: frozenset[str]) -> str:
    """Return the media type, or raise ``UnsupportedMediaType`` if not in ``allowed``."""
    return check_media_type(request.headers.get("content-type", ""), allowed)


async def read_body(request: Request, limit: int) -> bytes:
    """Read the whole body, raising ``PayloadTooLarge`` once it passes ``limit`` bytes."""
    return await receive_body(request.receive, request.headers.get("content-length"), limit)


async def receive_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The body from ASGI ``receive``, refusing a ``declared`` length or a running
    total over ``limit``.

    It reads the ASGI messages itself, without Starlette's stream (an async
    generator): on the webhook path that machinery cost as much as verifying the
    signature.
    """
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if size > limit:
            raise PayloadTooLarge(f"body of {size} bytes is over the limit of {limit} bytes")
    parts: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"body is over the limit of {limit} bytes")
        parts.append(chunk)
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)
