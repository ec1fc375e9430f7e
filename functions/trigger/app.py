"""The trigger function: a FastAPI app serving webhooks, manual runs and schedules.

Contract: ``create_app(settings)`` returns an ASGI app whose lifespan loads
scd.yaml, opens the run store and the invoker (and starts the local
``Scheduler`` when ``settings.scheduler``), and closes them on shutdown. A bad
config fails start-up with the ``ConfigError``. ``app`` is the app for
``uvicorn functions.trigger.app:app``, configured from ``SCD_*`` variables at
start-up. Tests may pass ``config``, ``store`` and ``invoker`` ready-made.
Nothing heavy is imported here: backends import their SDKs when opened.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from scd_core.invoker import Invoker
from scd_core.settings import Settings
from scd_core.store import RunStore

from functions.trigger import manual, schedules, webhooks
from functions.trigger.answers import Health
from functions.trigger.config import Config, load_config
from functions.trigger.errors import install
from functions.trigger.launcher import Launcher
from functions.trigger.state import TriggerState

__all__ = ["app", "create_app"]


def create_app(
    settings: Settings | None = None,
    *,
    config: Config | None = None,
    store: RunStore | None = None,
    invoker: Invoker | None = None,
) -> FastAPI:
    """The trigger app; ``settings`` default to ``Settings.from_env()`` at start-up."""

    @contextlib.asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            state = _open(settings or Settings.from_env(), config, store, invoker, stack)
            api.state.scd = state
            if state.settings.scheduler:
                scheduler = schedules.Scheduler(
                    state.config.apps.values(), state.launcher.store, state.launcher.invoker
                )
                scheduler.start()
                stack.push_async_callback(scheduler.stop)
            yield

    api = FastAPI(
        title="scd trigger",
        summary="Webhooks, manual runs and schedules for scd pipelines.",
        version="0.1.0",
        lifespan=lifespan,
    )
    install(api)
    api.include_router(webhooks.router)
    api.include_router(manual.router)
    api.include_router(schedules.router)
    api.add_api_route("/healthz", _healthz, methods=["GET"], response_model=Health)
    return api


async def _healthz() -> dict[str, bool]:
    """Liveness: the process answers."""
    return {"ok": True}


def _open(
    settings: Settings,
    config: Config | None,
    store: RunStore | None,
    invoker: Invoker | None,
    stack: contextlib.AsyncExitStack,
) -> TriggerState:
    if config is None:
        config = load_config(settings.config)
    if store is None:
        from scd_core.stores import open_store

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = open_store(settings.store)
        _close_later(stack, store)
    if invoker is None:
        from scd_core.invokers import open_invoker

        invoker = open_invoker(settings.invoker)
        _close_later(stack, invoker)
    return TriggerState(settings=settings, config=config, launcher=Launcher(store, invoker))


def _close_later(stack: contextlib.AsyncExitStack, backend: Any) -> None:
    close = getattr(backend, "close", None)
    if callable(close):
        stack.callback(close)


app = create_app()
