"""``accept``: one webhook delivery in, one decision out. The trigger's hot path.

Order, fixed for safety: pick the provider (``app.provider`` pins it; otherwise the event
header tells) → verify the signature or token over the **raw** bytes, in constant time,
before any parsing → decode the body once (JSON, or GitHub's form-encoded ``payload=``) →
normalise → match the trigger spec. Where the provider names the fields it reads for the event
kind (``GitProvider.decoders``), a strict JSON body is decoded into those fields only, and the
accepted event's payload is the body's text, parsed if and when something reads it.

Contract: returns ``Accepted``, ``Ignored`` or ``Pong``; raises only ``AuthError`` (bad or
missing credentials; the message names neither the secret nor what was received) and
``BadRequest`` (no event header, a body that is not a JSON object, a payload missing fields
the provider needs), whatever the input. An app with ``insecure_no_secret`` and no secret
skips verification. Apps that do not pin a provider accept any provider's scheme keyed by
their secret; pin it to accept one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from scd_core.errors import BadRequest
from scd_core.payload import Payload

from scd_trigger_spec.filters import decide
from scd_trigger_spec.payloads import decode_fields, decode_whole
from scd_trigger_spec.providers import PROVIDERS, GitProvider, Parsed
from scd_trigger_spec.results import Accepted, Ignored, Pong
from scd_trigger_spec.spec import App

__all__ = ["accept", "detect_provider"]

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
    decoder = provider.decoders.get(event_name) if provider.keeps_payload else None
    fields = None if decoder is None else decode_fields(decoder, lowered, body)
    payload, text = decode_whole(lowered, body) if fields is None else fields
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
        if fields is not None:  # the event holds only what was read: its payload is the text
            parsed.event.payload = Payload.from_text(text)
        parsed.event.with_payload_json(text)  # stored as delivered, not encoded again
    return Accepted(parsed.event, f"{app.name}:{provider.name}:{delivery}")
