"""Schedules: mapping FC timer triggers to apps, and the local ``Scheduler``.

``POST /invoke`` itself is in ``timers``.

FC timer trigger naming (the deployment must follow one of these):

- the trigger's ``payload`` is JSON ``{"app": "<app>", "cron": "<expr>"}``
  (``cron`` optional when the app has one schedule), or else
- the trigger is named ``<app>--<n>``, ``n`` the 0-based index in the app's
  ``trigger.schedule`` list, or ``<app>--<schedule name>`` (a schedule's
  ``name``), or just ``<app>`` when the app has one schedule.

Either way the cron must be one of the app's schedules. The run's tick is the
event's ``triggerTime``, so FC's at-least-once redelivery of one tick meets
the same dedup key and starts one run. ``/invoke`` is trusted when FC sent it
(the ``x-fc-control-path: /invoke`` header, which clients cannot set on FC)
and ``Settings.trust_fc_headers`` is on; otherwise it needs a bearer token
with the ``trigger`` scope.

The local ``Scheduler`` fires each tick once across processes and restarts:
``store.claim_once("tick:<app>:<cron>:<iso tick>")`` elects one firer and the
run's dedup key backs it up. Missed ticks are not replayed: when it starts it
fires only the latest tick within the grace window (default 300 s) before now,
and when it falls behind it fires only ticks within the grace window.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio.to_thread
from pydantic import BaseModel, ConfigDict
from scd_core.errors import NotFound, ScdError
from scd_core.invoker import Invoker
from scd_core.models import utcnow
from scd_core.store import RunStore
from scd_trigger_spec import App, schedule_event
from scd_trigger_spec.cron import CronSchedule, parse_cron

from functions.trigger.launcher import Launched, Launcher

__all__ = ["Scheduler", "Tick", "TimerEvent", "resolve_timer", "utc"]

log = logging.getLogger("scd.trigger.schedule")

_MAX_FIRES_PER_LOOK = 1000
_MAX_SLEEP = 60.0


class TimerEvent(BaseModel):
    """The body FC's timer trigger posts to ``/invoke``."""

    # built on first use: not on a webhook's cold start
    model_config = ConfigDict(extra="allow", defer_build=True)

    triggerTime: datetime  # noqa: N815 - FC's field name
    triggerName: str  # noqa: N815
    payload: str | None = None


def utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def resolve_timer(apps: dict[str, App], name: str, payload: str | None) -> tuple[App, str]:
    """The app and cron an FC timer trigger stands for (see the module doc), or ``NotFound``."""
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


class Tick(BaseModel):
    """One due firing of one app's cron."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    app: str
    cron: str
    at: datetime


class Scheduler:
    """Fires every app's crons once per tick; see the module doc for the rules."""

    def __init__(
        self,
        apps: Iterable[App],
        store: RunStore,
        invoker: Invoker,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        grace: timedelta = timedelta(seconds=300),
    ) -> None:
        self.store = store
        self.launcher = Launcher(store, invoker)
        self.clock = clock
        self.sleep = sleep
        self.grace = grace
        self._apps = {app.name: app for app in apps}
        self._entries: list[tuple[str, str, CronSchedule]] = [
            (app.name, entry.cron, parse_cron(entry.cron))
            for app in self._apps.values()
            for entry in app.trigger.schedule
        ]
        self._cursor: dict[tuple[str, str], datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def due(self, now: datetime) -> list[Tick]:
        """The ticks to fire at ``now``, advancing the cursors past them."""
        now = utc(now)
        floor = now - self.grace
        out: list[Tick] = []
        for app, cron, schedule in self._entries:
            cursor = self._cursor.get((app, cron))
            ticks = self._between(schedule, max(cursor, floor) if cursor else floor, now)
            if cursor is None:
                ticks = ticks[-1:]  # first look after a start: only the latest missed tick
            out.extend(Tick(app=app, cron=cron, at=at) for at in ticks)
            self._cursor[(app, cron)] = now
        return out

    @staticmethod
    def _between(schedule: CronSchedule, after: datetime, until: datetime) -> list[datetime]:
        ticks: list[datetime] = []
        moment = utc(schedule.next_after(after))
        while moment <= until and len(ticks) < _MAX_FIRES_PER_LOOK:
            ticks.append(moment)
            moment = utc(schedule.next_after(moment))
        return ticks

    def fire(self, tick: Tick) -> Launched | None:
        """Start ``tick``'s run unless another process or an earlier life claimed it."""
        if not self.store.claim_once(f"tick:{tick.app}:{tick.cron}:{tick.at.isoformat()}"):
            return None
        app = self._apps[tick.app]
        accepted = schedule_event(app, cron=tick.cron, tick=tick.at)
        return self.launcher.launch(app, accepted)

    def run_due(self, now: datetime | None = None) -> list[Launched]:
        """Fire everything due at ``now`` (the clock's time by default); blocking."""
        launched: list[Launched] = []
        for tick in self.due(self.clock() if now is None else now):
            try:
                result = self.fire(tick)
            except ScdError as exc:
                log.error(
                    "schedule %s of app %s at %s failed: %s", tick.cron, tick.app, tick.at, exc
                )
                continue
            if result is not None:
                launched.append(result)
        return launched

    def next_wake(self, now: datetime) -> datetime | None:
        """The earliest tick of any cron after ``now``, or None without crons."""
        now = utc(now)
        ticks = [utc(schedule.next_after(now)) for _, _, schedule in self._entries]
        return min(ticks) if ticks else None

    async def serve(self) -> None:
        """Fire due ticks forever, sleeping until the next one (at most a minute at a time)."""
        while True:
            try:
                await anyio.to_thread.run_sync(self.run_due)
            except Exception:  # the loop must outlive any one bad look
                log.exception("scheduler look failed")
            now = self.clock()
            wake = self.next_wake(now)
            delay = _MAX_SLEEP if wake is None else (wake - utc(now)).total_seconds()
            await self.sleep(min(max(delay, 0.0), _MAX_SLEEP))

    def start(self) -> None:
        """Run ``serve`` as a task of the running event loop."""
        if self._task is None and self._entries:
            self._task = asyncio.get_running_loop().create_task(self.serve())

    async def stop(self) -> None:
        """Cancel the task started by ``start`` and wait for it to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
