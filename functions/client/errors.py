"""How the API client turns HTTP answers and transport failures into ``scd_core.errors``.

Contract: an error answer (``{"error", "detail"}``, or anything else with a
status of 400 or more) becomes the ``scd_core.errors`` class of its status, its
message the server's ``detail`` followed by ``(HTTP <status>)``; a server that
cannot be reached at all is :class:`Unreachable`; a connection lost mid-answer
is :class:`BackendError`. Messages name the server without any user info in
its URL, and never hold the token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scd_core.errors import (
    AuthError,
    BackendError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ScdError,
)

if TYPE_CHECKING:
    import httpx

__all__ = ["Unreachable", "error_for_answer", "error_for_transport", "public_url"]

_BY_STATUS: dict[int, type[ScdError]] = {
    400: BadRequest,
    401: AuthError,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
}
_DETAIL_MAX = 500


class Unreachable(BackendError):
    """No connection to the scd server could be made (refused, unknown host, timeout)."""

    code = "unreachable"


def public_url(server: str) -> str:
    """``server`` without ``user:password@`` (safe to print)."""
    scheme, sep, rest = server.partition("://")
    if not sep:
        return server
    host, slash, path = rest.partition("/")
    return f"{scheme}://{host.rpartition('@')[2]}{slash}{path}"


def error_for_answer(answer: httpx.Response) -> ScdError:
    """The error an answer with status >= 400 stands for (its body must be read)."""
    status = answer.status_code
    detail = _detail(answer)
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = BackendError if status >= 500 else BadRequest
    return cls(f"{detail} (HTTP {status})")


def error_for_transport(exc: Exception, server: str, *, connected: bool) -> BackendError:
    """A transport failure as :class:`Unreachable` (before any answer) or ``BackendError``."""
    import httpx

    where = public_url(server)
    reason = _reason(exc)
    if not connected and isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return Unreachable(f"cannot reach SCD_SERVER {where} ({reason})")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Unreachable(f"cannot reach SCD_SERVER {where}: not an http(s) URL")
    return BackendError(f"lost the connection to {where} ({reason})")


def _detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        text = str(body["detail"])
    else:
        text = answer.reason_phrase or "error"
    return " ".join(text.split())[:_DETAIL_MAX]


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if "name or service" in lowered or "nodename" in lowered or "resolution" in lowered:
        return "unknown host"
    return type(exc).__name__ if not text else f"{type(exc).__name__}: {text[:120]}"
