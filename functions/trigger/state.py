"""What the trigger's handlers share: settings, config, store, invoker, and the app lookup.

Contract: the lifespan of ``create_app`` builds one ``TriggerState`` and puts
it on ``app.state.scd``; handlers reach it through ``state_of(request)``.

``TriggerState.find(name)`` (and ``app``, ``find_async``, ``app_async``) is the
one app lookup of every route (webhooks, manual runs, reruns, the API and the
dashboard): scd.yaml's apps first, with no store read, then the apps
registered through ``PUT /api/v1/apps/{app}``. A stored app is validated once
per stored spec (a changed spec is validated again) and the answer, found or
not, is kept ``APP_TTL_S`` seconds (for at most 1024 names, the oldest dropped
first), so a burst of webhooks costs one store read per app and interval.
``forget(name)`` drops it at once: the API calls it after a PUT or DELETE in
this process; another process (another FC instance) sees the change up to
``APP_TTL_S`` seconds late. This module imports Starlette only: it is on the
cold-start path.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from scd_core.errors import BackendError, ConfigError, NotFound
from scd_core.settings import Settings
from scd_core.store import RunStore
from scd_trigger_spec import App
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from functions.appconfig import Config, stored_app
from functions.trigger.launcher import Launcher

__all__ = ["APP_TTL_S", "AppCatalog", "CachedApp", "Source", "TriggerState", "state_of"]

log = logging.getLogger("scd.trigger")
Source = Literal["config", "api"]
APP_TTL_S = 3.0


@dataclass
class CachedApp:
    """One name's store lookup: the spec read, the app it validated to, and until when."""

    spec: dict[str, Any] | None  # the stored spec the app was validated from; None: absent
    app: App | None  # None: absent, or no longer valid
    until: float


class AppCatalog:
    """The store's apps, validated once per spec and looked up at most every ``ttl`` s."""

    def __init__(self, ttl: float = APP_TTL_S, max_entries: int = 1024) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, CachedApp] = {}
        self._lock = threading.Lock()

    def fresh(self, name: str) -> CachedApp | None:
        """The cached entry of ``name`` if still within its ttl (no store read)."""
        entry = self._entries.get(name)
        if entry is None or entry.until < time.monotonic():
            return None
        return entry

    def load(self, store: RunStore, name: str) -> CachedApp:
        """Read ``name`` from the store (blocking) and cache it, validated."""
        return self.remember(name, store.get_app(name))

    def remember(self, name: str, spec: dict[str, Any] | None) -> CachedApp:
        """Cache the stored ``spec`` of ``name`` (None: not stored), validating it
        only if it differs from the spec validated before."""
        with self._lock:
            old = self._entries.get(name)
        if old is not None and old.spec == spec:
            app = old.app
        else:
            app = None if spec is None else _validated(name, spec)
        entry = CachedApp(spec, app, time.monotonic() + self.ttl)
        with self._lock:
            self._entries.pop(name, None)
            self._entries[name] = entry
            if len(self._entries) > self.max_entries:
                # names of unknown apps (any URL) must not grow the cache without bound
                del self._entries[next(iter(self._entries))]
        return entry

    def forget(self, name: str) -> None:
        """Drop ``name``: the next lookup reads the store."""
        with self._lock:
            self._entries.pop(name, None)


def _validated(name: str, spec: dict[str, Any]) -> App | None:
    try:
        return stored_app(name, spec)
    except ConfigError:
        # validated when it was put: only a change of the spec models gets here
        log.warning("stored app %r no longer validates; it is left out", name)
        return None


def _answer(name: str, entry: CachedApp) -> tuple[App, Source]:
    if entry.app is not None:
        return entry.app, "api"
    if entry.spec is not None:
        raise BackendError(f"the stored app {name!r} no longer validates")
    raise NotFound(f"no app named {name!r}")


@dataclass
class TriggerState:
    """The live configuration and backends of one trigger process."""

    settings: Settings
    config: Config
    launcher: Launcher
    apps: AppCatalog = field(default_factory=AppCatalog)

    def find(self, name: str) -> tuple[App, Source]:
        """The app called ``name`` and where it is defined, or ``NotFound``.

        Blocking (may read the store); on the event loop use ``find_async``.
        ``BackendError`` for a stored app that no longer validates.
        """
        app = self.config.apps.get(name)
        if app is not None:
            return app, "config"
        entry = self.apps.fresh(name) or self.apps.load(self.launcher.store, name)
        return _answer(name, entry)

    async def find_async(self, name: str) -> tuple[App, Source]:
        """``find`` for the event loop: any store read runs in a worker thread."""
        app = self.config.apps.get(name)
        if app is not None:
            return app, "config"
        entry = self.apps.fresh(name)
        if entry is None:
            entry = await run_in_threadpool(self.apps.load, self.launcher.store, name)
        return _answer(name, entry)

    def app(self, name: str) -> App:
        """The app called ``name`` (scd.yaml's, then the store's), or ``NotFound``."""
        return self.find(name)[0]

    async def app_async(self, name: str) -> App:
        """``app`` for the event loop: any store read runs in a worker thread."""
        return (await self.find_async(name))[0]

    def forget(self, name: str) -> None:
        """Drop what is cached of app ``name`` (after this process changed it)."""
        self.apps.forget(name)


def state_of(request: Request) -> TriggerState:
    """The ``TriggerState`` of the application serving ``request``."""
    state: TriggerState = request.app.state.scd
    return state
