"""The one mapping from ``scd_core.errors`` to HTTP answers.

Contract: every error answer is JSON ``{"error": code, "detail": message}``
(``ErrorBody``). ``install(app)`` registers handlers so that our errors, unknown
routes and wrong methods all answer in that shape (``install_api`` adds FastAPI's
request validation errors),
and anything unexpected answers 500 ``internal`` without leaking its message
(it is logged, without request data, for the operator).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict
from scd_core.errors import (
    AuthError,
    BackendError,
    BadRequest,
    ConfigError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ScdError,
    SpecError,
)
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "UnsupportedMediaType",
    "describe_validation",
    "error_response",
    "install",
    "install_api",
    "scd_error_response",
    "status_for",
    "unexpected_response",
]

log = logging.getLogger("scd.trigger")


class UnsupportedMediaType(BadRequest):
    """The request's content type is not one the endpoint reads."""

    code = "unsupported_media_type"


class ErrorBody(BaseModel):
    """The shape of every error answer."""

    model_config = ConfigDict(defer_build=True)  # for the OpenAPI document only

    error: str
    detail: str


# Most specific first: subclasses precede their bases.
_STATUS: tuple[tuple[type[ScdError], int], ...] = (
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (Forbidden, 403),
    (AuthError, 401),
    (NotFound, 404),
    (Conflict, 409),
    (SpecError, 400),
    (BadRequest, 400),
    (BackendError, 503),
    (ConfigError, 500),
)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    503: "backend_error",
}

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody, "description": name.replace("_", " ")}
    for code, name in _HTTP_CODES.items()
    if code not in (405, 406)
}


def status_for(exc: ScdError) -> int:
    """The HTTP status of one of our errors (500 for an unmapped one)."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_response(status: int, code: str, detail: str) -> JSONResponse:
    """An answer in the ``ErrorBody`` shape."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


def scd_error_response(exc: ScdError, method: str, path: str) -> JSONResponse:
    """The answer to one of our errors raised by ``method path``; a 5xx is logged."""
    status = status_for(exc)
    if status >= 500:
        # Our messages are secret-free by contract, but a backend's cause may not be.
        log.error("%s on %s %s: %s", type(exc).__name__, method, path, exc)
    return error_response(status, exc.code, str(exc))


def unexpected_response(method: str, path: str) -> JSONResponse:
    """The 500 ``internal`` answer to anything else; call it in an ``except`` block,
    which it logs with its traceback (never the message in the answer)."""
    log.exception("unexpected error on %s %s", method, path)
    return error_response(500, "internal", "internal error")


async def _scd_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ScdError)
    return scd_error_response(exc, request.method, request.url.path)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    errors = getattr(exc, "errors", None)
    return error_response(400, "bad_request", describe_validation(errors() if errors else []))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return unexpected_response(request.method, request.url.path)


def describe_validation(errors: object) -> str:
    """One line per pydantic error: ``field: message`` (never the input value)."""
    lines: list[str] = []
    for err in errors if isinstance(errors, (list, tuple)) else []:
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body",)]
        field = ".".join(loc) or "body"
        lines.append(f"{field}: {err.get('msg', 'invalid')}")
    return "; ".join(lines) or "invalid request"


def install(app: Starlette) -> None:
    """Register the handlers that give every error our shape (Starlette only)."""
    app.add_exception_handler(ScdError, _scd_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def install_api(api: FastAPI) -> None:
    """``install`` plus FastAPI's request validation errors, answered 400 in our shape."""
    from fastapi.exceptions import RequestValidationError

    install(api)
    api.add_exception_handler(RequestValidationError, _validation_error)
