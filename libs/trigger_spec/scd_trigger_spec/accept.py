"""``accept``: one webhook delivery in, one decision out. The trigger's hot path.

Order, fixed for safety: pick the provider (``app.provider`` pins it; otherwise the event
header tells) → verify the signature or token over the **raw** bytes, in constant time,
before any parsing → decode the body once (JSON, or GitHub's form-encoded ``payload=``) →
normalise → match the trigger spec.

Contract: returns ``Accepted``, ``Ignored`` or ``Pong``; raises only ``AuthError`` (bad or
missing credentials; the message names neither the secret nor what was received) and
``BadRequest`` (no event header, a body that is not a JSON object, a payload missing fields
the provider needs), whatever the input. An app with ``insecure_no_secret`` and no secret
skips verification. Apps that do not pin a provider accept any provider's scheme keyed by
their secret; pin it to accept one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from pydantic_core import from_json
from scd_core.errors import BadRequest

from scd_trigger_spec.filters import decide
from scd_trigger_spec.providers import PROVIDERS, GitProvider, Parsed
from scd_trigger_spec.results import Accepted, Ignored, Pong
from scd_trigger_spec.spec import App

__all__ = ["accept", "detect_provider"]

_FORM = "application/x-www-form-urlencoded"
_EVENT_HEADERS = "X-GitHub-Event, X-Gitee-Event, X-Gitlab-Event or X-Codeup-Event"
_SHOWN = {"github": "X-GitHub-Event", "gitee": "X-Gitee-Event", "gitlab": "X-Gitlab-Event"}


def detect_provider(app: App, headers: Mapping[str, str]) -> GitProvider:
    """The app's pinned provider, or the one whose event header is present.

    ``headers`` must have lower-case names. Raises ``BadRequest`` when none is present.
    """
    if app.provider is not None:
        return PROVIDERS[app.provider]
    for provider in PROVIDERS.values():
        if provider.detect(headers):
            return provider
    raise BadRequest(f"cannot tell the git provider: no {_EVENT_HEADERS} header")


def _loads(data: bytes | str) -> tuple[Any, str | None]:
    """``json.loads(data)``, in about half the time for the JSON that webhooks carry, and
    ``data`` as text when it is strict JSON (RFC 8259: no NaN or Infinity, UTF-8).

    pydantic-core's parser gives the same value as ``json`` wherever it succeeds (last
    duplicate key wins); what it refuses (NaN and Infinity here, a lone surrogate escape, a
    BOM, UTF-16, very deep nesting) ``json`` decides, so the answer is always ``json``'s.
    """
    try:
        value = from_json(data, allow_inf_nan=False)
    except ValueError:
        return json.loads(data), None
    try:
        return value, data if isinstance(data, str) else data.decode("utf-8")
    except UnicodeDecodeError:
        return value, None


def _decode(headers: Mapping[str, str], body: bytes) -> tuple[dict[str, Any], str | None]:
    """The payload object, parsed once, and its strict JSON text if it has one;
    ``BadRequest`` for anything but a JSON object."""
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    try:
        if content_type == _FORM:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
            if "payload" not in form:
                raise BadRequest("form-encoded body has no 'payload' field")
            payload, text = _loads(form["payload"][0])
        else:
            payload, text = _loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise BadRequest("body is not a JSON object")
    return payload, text


def _has_secret(app: App) -> bool:
    return app.secret is not None and app.secret.get_secret_value() != ""


def accept(
    app: App, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> Accepted | Ignored | Pong:
    """Verify, normalise and filter one webhook delivery for ``app`` (see module doc)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    provider = detect_provider(app, lowered)
    if _has_secret(app):
        provider.verify(app, lowered, body, time.time() if now is None else now)
    event_name = lowered.get(provider.event_header)
    if not event_name:
        shown = _SHOWN.get(provider.name, "X-Codeup-Event")
        raise BadRequest(f"missing {shown} header")
    payload, text = _decode(lowered, body)
    delivery = provider.delivery_id(lowered, body)
    try:
        parsed = provider.parse(event_name, payload, lowered, delivery)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        # a payload shape no reader anticipated is the client's malformed input
        raise BadRequest(f"{provider.name} payload could not be read") from exc
    if not isinstance(parsed, Parsed):
        return parsed
    reason = decide(app.trigger, parsed.event, parsed.files_complete)
    if reason is not None:
        return Ignored(reason)
    if text is not None and provider.keeps_payload:
        parsed.event.with_payload_json(text)  # stored as delivered, not encoded again
    return Accepted(parsed.event, f"{app.name}:{provider.name}:{delivery}")
