"""The ``GitProvider`` interface and what its ``parse`` answers.

Call order (``accept`` drives it): ``detect`` (only when the app does not pin a provider) →
``verify`` on the raw bytes, before any parsing → ``delivery_id`` → ``parse`` of the decoded
payload: only the fields ``decoders`` names for the event kind, when it names them for it,
else the whole payload. Providers are stateless singletons, safe to share between
concurrent requests.

``headers`` given to a provider always have lower-case names. ``verify`` raises
``AuthError`` (its message names neither the secret nor the received signature); ``parse``
raises ``BadRequest`` for a payload missing fields it needs, and returns ``Ignored`` for an
authentic event that is not a trigger event (issues, notes, pipelines...).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from scd_core.models import Event

from scd_trigger_spec.providers.shapes import PartialDecoder
from scd_trigger_spec.results import Ignored, Pong
from scd_trigger_spec.spec import App

__all__ = ["GitProvider", "Parsed", "not_a_trigger"]


class Parsed(NamedTuple):
    """A normalised event; ``files_complete`` says whether its changed-file lists are whole
    (a payload that truncates commits, or carries none, cannot decide ``paths`` filters)."""

    event: Event
    files_complete: bool


class GitProvider(Protocol):
    """One git hosting service's webhook dialect."""

    name: str
    event_header: str  # lower-case header name carrying the event kind
    # whether an accepted event's payload is the delivered one, unchanged, so that the
    # body's text may stand for it; False for a provider that drops fields (Gitee's
    # secrets), whose body must not be stored
    keeps_payload: bool
    # by event kind, every field ``parse`` reads, for a provider that keeps the payload:
    # ``accept`` then builds only those and keeps the body's text as the payload
    decoders: Mapping[str, PartialDecoder]

    def detect(self, headers: Mapping[str, str]) -> bool:
        """Whether these headers come from this provider."""

    def verify(self, app: App, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Check the signature or token over the raw body; raise ``AuthError`` if wrong."""

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """The provider's id of this delivery (stable across redeliveries where it can be)."""

    def parse(
        self, event: str, payload: dict[str, Any], headers: Mapping[str, str], delivery: str
    ) -> Parsed | Ignored | Pong:
        """Normalise the payload of event kind ``event`` (the event header's value)."""


def not_a_trigger(event: str) -> Ignored:
    """The answer for an authentic event kind that never starts a run."""
    return Ignored(f"event '{event}' is not a trigger event")
