"""Schedules: which fire times are due, FC timer events, and what a change of schedule claims.

``POST /invoke`` is in ``timers``; the local loop of ``scd serve`` in ``scheduler``.

**Fire times and claims.** A schedule is one ``(app, cron)`` pair; its fire
times are the cron's ticks (``CronSchedule.next_after``), to the second. A fire
time fires at most once, ever, across processes and restarts: whoever fires it
first wins ``store.claim_once(tick_key(app, cron, at))``, and the run's dedup key
``"<app>:schedule:<cron>:<at>"`` backs that up. A claim is never retried: a
store failure between the claim and the run's record loses that fire time
(logged), because two runs of one tick are worse than none.

**FC timer triggers** map to schedules one of three ways:

- the *minute tick*: ``payload`` is JSON ``{"scd": "tick"}``. The tick at time
  ``T`` (``triggerTime`` rounded down to the whole minute) fires every app's
  schedules, scd.yaml's and the store's alike, that are *due*: a schedule is
  due when it has a fire time in the window ``(T - 60 s, T]``, and it fires once,
  at its latest fire time in that window. Consecutive ticks have windows that
  tile time, so each fire time belongs to one tick; FC's redelivery of a tick
  meets the same claims. So schedules finer than a minute (``*/10 * * * * *``)
  fire at minute granularity under the tick; they need their own timer (below)
  for every fire time, and the two never double a run: both use the fire time's
  dedup key. A tick FC never delivers is not replayed.
- a *schedule's own timer*: the ``payload`` is JSON ``{"app": "<app>", "cron":
  "<expr>"}`` (``cron`` optional when the app has one schedule), or else
- it is named ``<app>--<n>``, ``n`` the 0-based index in the app's
  ``trigger.schedule`` list, or ``<app>--<schedule name>``, or just ``<app>``
  when the app has one schedule. The cron must be one of the app's schedules;
  the run's fire time is ``triggerTime``.

``/invoke`` is trusted when FC sent it (the ``x-fc-control-path: /invoke``
header, which clients cannot set on FC) and ``Settings.trust_fc_headers`` is
on; otherwise it needs a bearer token with the ``trigger`` scope.

**A schedule starts when it is registered.** When ``PUT /api/v1/apps/{app}``
adds a cron or changes one (a new cron is a new schedule), ``claim_started``
claims, without running them, the new cron's fire times of the minute before
the PUT and its latest fire time within the catch-up window. Every place that
could still fire them looks back no further: the minute tick (one minute), a
scheduler noticing the change (at most a minute), a restarted scheduler (only
the latest tick within the window). So a change never fires a tick that
precedes it, in particular not one whose run already happened under the old
cron (the nightly ``0 0 2`` moved to ``0 1 2`` at 02:03 waits until tomorrow),
and the first fire time after the PUT fires once.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from scd_core.errors import NotFound
from scd_core.store import RunStore
from scd_trigger_spec import App
from scd_trigger_spec.cron import CronSchedule, parse_cron

__all__ = [
    "MINUTE",
    "TICK_PAYLOAD",
    "Tick",
    "TimerEvent",
    "claim_started",
    "fire_times",
    "is_minute_tick",
    "last_fire",
    "next_fire",
    "parsed",
    "resolve_timer",
    "schedules_of",
    "tick_due",
    "tick_key",
    "utc",
]

log = logging.getLogger("scd.trigger.schedule")

MINUTE = timedelta(seconds=60)
TICK_PAYLOAD = {"scd": "tick"}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # where @every ticks are aligned (cron.py)
MAX_FIRES = 1000  # fire times looked at per schedule and look: bounds the work of `* * * * * *`


class TimerEvent(BaseModel):
    """The body FC's timer trigger posts to ``/invoke``."""

    # built on first use: not on a webhook's cold start
    model_config = ConfigDict(extra="allow", defer_build=True)

    triggerTime: datetime  # noqa: N815 - FC's field name
    triggerName: str  # noqa: N815
    payload: str | None = None


class Tick(BaseModel):
    """One fire time of one app's cron."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    app: str
    cron: str
    at: datetime


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC (a naive one is read as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def tick_key(app: str, cron: str, at: datetime) -> str:
    """The ``claim_once`` key of one fire time: the same in every process and deployment."""
    return f"tick:{app}:{cron}:{utc(at).isoformat()}"


def fire_times(
    schedule: CronSchedule, after: datetime, until: datetime, limit: int = MAX_FIRES
) -> list[datetime]:
    """The fire times in ``(after, until]``, oldest first, at most ``limit`` (the oldest)."""
    times: list[datetime] = []
    moment = utc(schedule.next_after(after))
    while moment <= until and len(times) < limit:
        times.append(moment)
        moment = utc(schedule.next_after(moment))
    return times


def last_fire(schedule: CronSchedule, now: datetime) -> datetime:
    """The latest fire time at or before ``now`` (fire times are whole seconds)."""
    start = utc(now).replace(microsecond=0) + timedelta(seconds=1)
    if schedule.interval_s is not None:
        elapsed = (start - _EPOCH) // timedelta(seconds=1) - 1
        return _EPOCH + timedelta(seconds=elapsed // schedule.interval_s * schedule.interval_s)
    assert schedule.fields is not None
    from croniter import croniter  # as in CronSchedule.next_after: not on a cold start

    local = start.astimezone(ZoneInfo(schedule.zone) if schedule.zone else timezone.utc)
    before = croniter(schedule.fields, local, second_at_beginning=True).get_prev(datetime)
    return utc(before)


@functools.lru_cache(maxsize=4096)
def parsed(cron: str) -> CronSchedule:
    """``parse_cron(cron)``, remembered: apps share crons, and parsing builds a croniter."""
    return parse_cron(cron)


_NEXT: dict[str, tuple[datetime, datetime]] = {}  # cron -> (asked at, its next fire time)


def next_fire(cron: str, now: datetime) -> datetime | None:
    """The first fire time of ``cron`` after ``now``; None if it cannot be parsed.

    Remembered per cron until that fire time passes (the answer is the same for
    every ``now`` in between), so listing many apps costs a croniter per cron
    and fire time, not per app and request. Thread safe (a lost race recomputes).
    """
    now = utc(now)
    known = _NEXT.get(cron)
    if known is not None and known[0] <= now < known[1]:
        return known[1]
    try:
        upcoming = utc(parsed(cron).next_after(now))
    except ValueError:
        return None
    if len(_NEXT) >= 4096:
        _NEXT.clear()
    _NEXT[cron] = (now, upcoming)
    return upcoming


def schedules_of(app: App) -> list[str]:
    """``app``'s crons, each once, in the order of its ``trigger.schedule``."""
    return list(dict.fromkeys(entry.cron for entry in app.trigger.schedule))


def is_minute_tick(payload: str | None) -> bool:
    """Whether a timer event's ``payload`` is the minute tick's ``{"scd": "tick"}``."""
    if not payload:
        return False
    try:
        parsed = json.loads(payload)
    except ValueError:
        return False
    return isinstance(parsed, dict) and parsed.get("scd") == TICK_PAYLOAD["scd"]


def tick_due(apps: Iterable[App], trigger_time: datetime) -> tuple[datetime, list[Tick]]:
    """The minute tick of ``trigger_time`` and what it fires (see the module doc).

    Returns the tick (``trigger_time`` rounded down to the minute) and, for each
    due ``(app, cron)``, its latest fire time in ``(tick - 60 s, tick]``. An
    unparsable cron (it was validated when stored) is logged and left out.
    """
    tick = utc(trigger_time).replace(second=0, microsecond=0)
    latest: dict[str, datetime | None] = {}  # per distinct cron: apps share crons
    due: list[Tick] = []
    for app in apps:
        for cron in schedules_of(app):
            if cron not in latest:
                latest[cron] = _latest_in_minute(cron, tick)
            at = latest[cron]
            if at is not None:
                due.append(Tick(app=app.name, cron=cron, at=at))
    return tick, due


def _latest_in_minute(cron: str, tick: datetime) -> datetime | None:
    try:
        schedule = parsed(cron)
    except ValueError as exc:
        log.error("schedule %r left out: %s", cron, exc)
        return None
    first = utc(schedule.next_after(tick - MINUTE))
    if first > tick:
        return None  # the common case: one croniter per cron and tick
    return last_fire(schedule, tick)


def claim_started(
    store: RunStore, app: App, before: Iterable[str], now: datetime, window: timedelta
) -> int:
    """Claim the fire times that precede the start of ``app``'s new crons; how many.

    ``before`` are the crons the app had until now (none for a new app). For
    each cron of ``app`` not among them: its fire times in ``(now - 60 s, now]``
    and its latest in ``(now - window, now]`` (``window``: the scheduler's
    catch-up window). Idempotent; blocking (one ``claim_once`` each).
    """
    old = set(before)
    now = utc(now)
    claimed = 0
    for cron in schedules_of(app):
        if cron in old:
            continue
        schedule = parsed(cron)
        burn = set(fire_times(schedule, now - MINUTE, now, limit=61))
        latest = last_fire(schedule, now)
        if latest > now - window:
            burn.add(latest)
        for at in sorted(burn):
            claimed += store.claim_once(tick_key(app.name, cron, at))
    return claimed


def resolve_timer(apps: dict[str, App], name: str, payload: str | None) -> tuple[App, str]:
    """The app and cron a schedule's own FC timer stands for (see the module doc),
    or ``NotFound``."""
    target: dict[str, Any] = {}
    if payload:
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("app"), str):
            target = parsed
    app_name = target.get("app")
    which: str | None = None
    if app_name is None:
        app_name, sep, which = name.rpartition("--")
        if not sep:
            app_name, which = name, None
    app = apps.get(app_name)
    if app is None:
        raise NotFound(f"timer trigger {name!r} names no configured app")
    entries = app.trigger.schedule
    crons = [entry.cron for entry in entries]
    cron = target.get("cron")
    if cron is None:
        if which is None:
            chosen = crons if len(crons) == 1 else []
        else:
            chosen = [e.cron for i, e in enumerate(entries) if which in (str(i), e.name)]
        if not chosen:
            raise NotFound(f"timer trigger {name!r} names no schedule of app {app.name!r}")
        cron = chosen[0]
    if cron not in crons:
        raise NotFound(f"app {app.name!r} has no schedule {cron!r}")
    return app, str(cron)
