"""scd_trigger_spec: git providers, signatures, events and trigger spec matching.

The webhook hot path is ``accept(app, headers, body)``; manual runs and schedule ticks go
through ``manual_event`` and ``schedule_event``. Filter patterns live in ``patterns``, FC
timer expressions in ``cron``.
"""

from __future__ import annotations

from scd_trigger_spec.accept import accept, detect_provider
from scd_trigger_spec.cron import CronSchedule, parse_cron
from scd_trigger_spec.events import manual_event, schedule_event
from scd_trigger_spec.patterns import compile_pattern, skip_for_paths, skip_for_paths_ignore
from scd_trigger_spec.providers import PROVIDERS, GitProvider
from scd_trigger_spec.results import Accepted, Ignored, Pong
from scd_trigger_spec.spec import (
    App,
    PullRequestFilter,
    PullRequestRule,
    PushFilter,
    Retry,
    Schedule,
    TriggerSpec,
)

__all__ = [
    "PROVIDERS",
    "Accepted",
    "App",
    "CronSchedule",
    "GitProvider",
    "Ignored",
    "Pong",
    "PullRequestFilter",
    "PullRequestRule",
    "PushFilter",
    "Retry",
    "Schedule",
    "TriggerSpec",
    "accept",
    "compile_pattern",
    "detect_provider",
    "manual_event",
    "parse_cron",
    "schedule_event",
    "skip_for_paths",
    "skip_for_paths_ignore",
]
