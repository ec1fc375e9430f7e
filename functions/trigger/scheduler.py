"""The local ``Scheduler`` of ``scd serve``: fires every app's schedules, following the catalogue.

Contract: ``Scheduler(catalogue, store, invoker)`` where ``catalogue()`` returns
the apps as they are now (blocking; ``scd serve`` passes scd.yaml's and the
store's, ``catalogue.merged_apps``). ``serve()`` loops forever on the event
loop it is awaited on: each look (in a worker thread) reads the catalogue,
fires what is due, then it sleeps until the next fire time, at most
``refresh_s`` (default 2 s), so an app registered, changed or deleted through
the API in any process is followed within ``refresh_s``; ``wake()`` (thread
safe) cuts the sleep short, which the apps API does after a PUT or DELETE in
this process. ``start()``/``stop()`` run ``serve`` as a task of the running loop.
Apart from ``wake``, one caller at a time: ``run_due`` is not reentrant (``serve``
makes one look at a time); several schedulers (processes) may share a store.

What fires (``functions.trigger.schedules`` has the claims behind "once"):

- a schedule known since the last look fires each fire time in
  ``(last look, now]``, once across processes and restarts; after a stall
  longer than ``grace`` (300 s) only those within ``grace``;
- at start (the first look that reads the catalogue), each schedule fires only its latest fire time
  within ``grace`` before now, unless it was fired or claimed before: missed
  ticks are not replayed one by one;
- a schedule that appears after the first look (a new app, a new or changed
  cron; a cron is the schedule's identity) fires from the previous look on,
  looking back at most a minute: the PUT that made it claimed its fire times
  of that minute, so it fires from the PUT on and never catches up a tick
  that precedes it;
- a schedule gone from the catalogue (deleted app or cron) stops firing at the
  next look. A look whose catalogue read fails keeps the schedules it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio.to_thread
from scd_core.errors import ScdError
from scd_core.invoker import Invoker
from scd_core.lifecycle import Lifecycle
from scd_core.models import utcnow
from scd_core.store import RunStore
from scd_trigger_spec import App, schedule_event
from scd_trigger_spec.cron import CronSchedule
from scd_trigger_spec.routing import WorkerRule

from functions.trigger.launcher import Launched, Launcher
from functions.trigger.schedules import (
    MAX_FIRES,
    MINUTE,
    Tick,
    fire_times,
    parsed,
    schedules_of,
    tick_key,
    utc,
)

__all__ = ["Scheduler"]

log = logging.getLogger("scd.trigger.schedule")

Catalogue = Callable[[], Iterable[App]]


@dataclass
class _Entry:
    """One schedule being followed: its parsed cron, until when it was looked at, and
    its first fire time after that (kept, so a look costs a croniter per fire, not per
    schedule)."""

    schedule: CronSchedule
    cursor: datetime | None  # None: not looked at yet in this process's life
    upcoming: datetime | None = None  # the first fire time after cursor; None: unknown

    def take(self, now: datetime, floor: datetime) -> list[datetime]:
        """The fire times to fire at ``now`` (none before ``floor``); advances the cursor."""
        if self.cursor is None:  # first look after a start: only the latest missed tick
            times = fire_times(self.schedule, floor, now)[-1:]
        else:
            start = max(self.cursor, floor)
            if self.upcoming is None or self.upcoming <= start:
                self.upcoming = utc(self.schedule.next_after(start))
            times = []
            while self.upcoming <= now and len(times) < MAX_FIRES:
                times.append(self.upcoming)
                self.upcoming = utc(self.schedule.next_after(self.upcoming))
        if self.upcoming is None or self.upcoming <= now:
            self.upcoming = utc(self.schedule.next_after(now))
        self.cursor = now
        return times


class Scheduler:
    """Fires every app's crons once per fire time; see the module doc for the rules."""

    def __init__(
        self,
        catalogue: Catalogue,
        store: RunStore,
        invoker: Invoker,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        grace: timedelta = timedelta(seconds=300),
        refresh_s: float = 2.0,
        lifecycle: Lifecycle | None = None,
        workers: Sequence[WorkerRule] = (),
    ) -> None:
        self.catalogue = catalogue
        self.store = store
        # the process's lifecycle, so that its listeners hear scheduled runs queued too
        self.launcher = Launcher(store, invoker, lifecycle, workers=workers)
        self.clock = clock
        self.sleep = sleep
        self.grace = grace
        self.refresh_s = refresh_s
        self._apps: dict[str, App] = {}
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._looked: datetime | None = None
        self._followed = False  # whether a catalogue read succeeded yet (the start's look)
        self._task: asyncio.Task[None] | None = None
        self._woken: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def schedules(self) -> list[tuple[str, str]]:
        """The ``(app, cron)`` pairs followed since the last look, sorted."""
        return sorted(self._entries)

    def refresh(self, now: datetime) -> None:
        """Read the catalogue and follow its schedules as of ``now`` (blocking).

        A failed read is logged and the schedules followed so far are kept.
        """
        try:
            apps = {app.name: app for app in self.catalogue()}
        except ScdError as exc:
            log.warning("scheduler: the app catalogue could not be read: %s", exc)
            return
        since = None if not self._followed else max(self._looked or now, now - MINUTE)
        entries: dict[tuple[str, str], _Entry] = {}
        for app in apps.values():
            for cron in schedules_of(app):
                key = (app.name, cron)
                entry = self._entries.get(key)
                if entry is None:
                    try:
                        entry = _Entry(parsed(cron), since)
                    except ValueError as exc:  # validated when stored: a models change
                        log.error("app %s: schedule %r left out: %s", app.name, cron, exc)
                        continue
                entries[key] = entry
        self._apps, self._entries, self._followed = apps, entries, True

    def due(self, now: datetime) -> list[Tick]:
        """The fire times to fire at ``now``, advancing the cursors past them."""
        now = utc(now)
        floor = now - self.grace
        out: list[Tick] = []
        for (app, cron), entry in self._entries.items():
            out.extend(Tick(app=app, cron=cron, at=at) for at in entry.take(now, floor))
        self._looked = now
        return out

    def fire(self, tick: Tick) -> Launched | None:
        """Start ``tick``'s run unless another process or an earlier life claimed it."""
        if not self.store.claim_once(tick_key(tick.app, tick.cron, tick.at)):
            return None
        app = self._apps[tick.app]
        accepted = schedule_event(app, cron=tick.cron, tick=tick.at)
        return self.launcher.launch(app, accepted)

    def run_due(self, now: datetime | None = None) -> list[Launched]:
        """Look: follow the catalogue, fire everything due at ``now`` (the clock's
        time by default); blocking."""
        moment = utc(self.clock() if now is None else now)
        self.refresh(moment)
        launched: list[Launched] = []
        for tick in self.due(moment):
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
        """The earliest fire time of any schedule after ``now``, or None without any."""
        now = utc(now)
        times = [
            entry.upcoming
            if entry.upcoming is not None and entry.cursor is not None and entry.cursor <= now
            else utc(entry.schedule.next_after(now))
            for entry in self._entries.values()
        ]
        return min(times) if times else None

    def wake(self) -> None:
        """Look again now (the catalogue changed); thread safe, a no-op when not serving."""
        loop, woken = self._loop, self._woken
        if loop is not None and woken is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to wake
                loop.call_soon_threadsafe(woken.set)

    async def serve(self) -> None:
        """Look, then sleep until the next fire time or at most ``refresh_s``; forever."""
        self._loop, self._woken = asyncio.get_running_loop(), asyncio.Event()
        while True:
            try:
                await anyio.to_thread.run_sync(self.run_due)
            except Exception:  # the loop must outlive any one bad look
                log.exception("scheduler look failed")
            now = self.clock()
            wake = self.next_wake(now)
            delay = self.refresh_s if wake is None else (wake - utc(now)).total_seconds()
            await self._nap(min(max(delay, 0.0), self.refresh_s))

    async def _nap(self, seconds: float) -> None:
        """``sleep(seconds)``, cut short by ``wake``."""
        assert self._woken is not None
        woken = asyncio.ensure_future(self._woken.wait())
        napping = asyncio.ensure_future(self.sleep(seconds))
        try:
            done, _ = await asyncio.wait({woken, napping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (woken, napping):
                task.cancel()
            await asyncio.gather(woken, napping, return_exceptions=True)
        self._woken.clear()
        if napping in done:
            napping.result()  # an injected sleep may raise to end the loop

    def start(self) -> None:
        """Run ``serve`` as a task of the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.serve())

    async def stop(self) -> None:
        """Cancel the task started by ``start`` and wait for it to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop = self._woken = None
