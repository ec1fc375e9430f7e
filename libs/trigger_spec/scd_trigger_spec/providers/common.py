"""Pieces every provider shares: constant-time secret checks and building an ``Event``."""

from __future__ import annotations

import hmac
from typing import Any

from pydantic import ValidationError
from scd_core.errors import AuthError, BadRequest
from scd_core.models import Event

from scd_trigger_spec.spec import App

__all__ = ["equal_secret", "make_event", "secret_bytes", "token_check"]


def secret_bytes(app: App) -> bytes:
    """The app's secret as UTF-8 bytes (``accept`` never calls providers without one)."""
    if app.secret is None:  # pragma: no cover - accept skips verification then
        raise AuthError(f"app '{app.name}' has no secret to verify with")
    return app.secret.get_secret_value().encode("utf-8")


def equal_secret(expected: str | bytes, received: str) -> bool:
    """Constant-time comparison that accepts any received text (even non-ASCII)."""
    want = expected if isinstance(expected, bytes) else expected.encode("utf-8")
    return hmac.compare_digest(want, received.encode("utf-8", "surrogatepass"))


def token_check(app: App, header: str, received: str | None) -> None:
    """GitLab/Codeup style: the header carries the secret itself."""
    if received is None:
        raise AuthError(f"missing {header} header")
    if not equal_secret(secret_bytes(app), received):
        raise AuthError(f"{header} does not match the app's secret")


def make_event(**fields: Any) -> Event:
    """An ``Event`` from normalised fields; a type slip in a payload becomes ``BadRequest``."""
    try:
        return Event(**fields)
    except ValidationError as exc:
        count = exc.error_count()
        raise BadRequest(f"payload has unexpected field types ({count} field(s))") from exc
