"""What ``accept`` answers: an accepted event, an ignored one, or a provider's ping.

Contract: ignoring is a result, not an exception. ``Ignored.reason`` is a sentence a user can
act on, naming the filter and the value ("branch 'dev' does not match push.branches [main]");
it never holds a secret. ``Accepted.dedup_key`` is what the run store deduplicates on.
"""

from __future__ import annotations

from dataclasses import dataclass

from scd_core.models import Event

__all__ = ["Accepted", "Ignored", "Pong"]


@dataclass(frozen=True)
class Accepted:
    """An event that should start a run, keyed for deduplication.

    ``dedup_key`` is ``"<app>:<provider>:<delivery id>"`` for webhooks,
    ``"<app>:manual:<request id>"`` and ``"<app>:schedule:<cron>:<tick>"`` otherwise.
    """

    event: Event
    dedup_key: str


@dataclass(frozen=True)
class Ignored:
    """An authentic event that the trigger spec filters out, and why."""

    reason: str


@dataclass(frozen=True)
class Pong:
    """A provider's test delivery (GitHub ``ping``): answer it, start nothing."""

    provider: str
    delivery_id: str | None = None
