"""The trigger function's ASGI app: webhooks, manual runs, FC timers, health.

Contract: ``create_app(settings)`` returns an ASGI app whose lifespan loads
scd.yaml, opens the run store and the invoker (and starts the local
``Scheduler`` over the app catalogue when ``settings.scheduler``, at
``app.state.scd_scheduler``), and closes them on shutdown. A bad
config fails start-up with the ``ConfigError``. ``app`` is the app for
``uvicorn functions.trigger.app:app``, configured from ``SCD_*`` variables at
start-up. Tests may pass ``config``, ``store`` and ``invoker`` ready-made.

Shape, for cold starts: a bare Starlette front serves the hot routes
(``POST /webhooks/{app}``, ``POST /api/v1/apps/{app}/runs``, ``POST /invoke``,
``GET /healthz``); any other request goes to the FastAPI app of ``api.py``
(``/openapi.json``, ``/docs``, later routers), built on first use with the
same state. So an instance woken by a webhook never imports FastAPI, nor the
manual-run and timer handlers until one is called, and nothing heavy is
imported here: backends import their SDKs when opened.

Every ``POST``/``PUT``/``PATCH`` under ``/api/`` that reaches the FastAPI app passes
``limits.guard_api`` first (FastAPI reads a body before its dependencies check the
token): the token is checked before the body is read, and the body is bounded in size,
depth and keys before anything parses it. The front's own manual-run route checks its
token first and caps its body itself.

For throughput, the front hands ``POST /webhooks/{app}`` straight to the bare
ASGI door of ``webhooks.py`` before Starlette's middleware and routing (which
cost about as much as the rest of a webhook); the Starlette route stays for
anything that door does not take (a ``root_path``, a path with more segments).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from scd_core.invoker import Invoker
from scd_core.settings import Settings
from scd_core.store import RunStore
from scd_trigger_spec import App
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from functions.appconfig import Config, load_config
from functions.trigger.errors import error_response, install
from functions.trigger.launcher import Launcher
from functions.trigger.limits import guard_api, guarded
from functions.trigger.state import TriggerState
from functions.trigger.webhooks import receive_webhook, serve_webhook

if TYPE_CHECKING:
    from scd_core.lifecycle import Lifecycle

__all__ = ["TriggerFront", "app", "create_app"]

_WEBHOOKS = "/webhooks/"


async def manual_run(request: Request) -> Response:
    """``POST /api/v1/apps/{app}/runs`` (``manual.py``, imported on first use)."""
    from functions.trigger.manual import start_manual_run

    return await start_manual_run(request)


async def timer_invoke(request: Request) -> Response:
    """``POST /invoke`` (``timers.py``, imported on first use)."""
    from functions.trigger.timers import invoke

    return await invoke(request)


async def healthz(request: Request) -> Response:
    """Liveness: the process answers."""
    return JSONResponse({"ok": True})


class _LazyApi:
    """The FastAPI app of ``api.py``, built on the first request that needs it."""

    def __init__(self, front: Starlette) -> None:
        self.front = front
        self.state: TriggerState | None = None
        self._api: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._api is None:
            if self.state is None:
                response = error_response(503, "starting", "the trigger is not started")
                await response(scope, receive, send)
                return
            from functions.trigger.api import build_api

            api = build_api(self.state)
            api.state = self.front.state  # one state: what callers set on the front is seen
            self._api = api
        if self.state is not None and guarded(scope):
            replay = await guard_api(self.state, scope, receive, send)
            if replay is None:
                return  # answered: no token, or a body too large, deep or wide
            receive = replay
        await self._api(scope, receive, send)


class TriggerFront(Starlette):
    """The front: Starlette, with webhooks answered before its middleware."""

    scd: TriggerState | None = None  # set by the lifespan once started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.scd
        if state is not None and scope["type"] == "http" and scope["method"] == "POST":
            name = _webhook_app(scope)
            if name is not None:
                scope["app"] = self
                await serve_webhook(state, name, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _webhook_app(scope: Scope) -> str | None:
    """The ``{app}`` of ``/webhooks/{app}`` exactly as the Starlette route reads it, or None."""
    path: str = scope["path"]
    if not path.startswith(_WEBHOOKS) or scope.get("root_path"):
        return None
    name = path[len(_WEBHOOKS) :]
    return name if name and "/" not in name else None


def create_app(
    settings: Settings | None = None,
    *,
    config: Config | None = None,
    store: RunStore | None = None,
    invoker: Invoker | None = None,
    freeze_gc: bool = False,
    lifecycle: Lifecycle | None = None,
) -> TriggerFront:
    """The trigger app; ``settings`` default to ``Settings.from_env()`` at start-up.

    ``freeze_gc``, for an app that owns its process (uvicorn's, ``scd serve``'s):
    once started, everything allocated so far is moved out of the garbage
    collector's sight (``gc.freeze``). Its full collections then walk only what
    requests allocate, not every module and model: under a burst of webhooks they
    took 30 to 60 ms each and set the p99. ``lifecycle``: the process's one
    lifecycle (with its listeners) for the launcher to announce runs through.
    """

    @contextlib.asynccontextmanager
    async def lifespan(front: TriggerFront) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            state = _open(settings or Settings.from_env(), config, store, invoker, stack, lifecycle)
            stack.callback(state.launcher.close)  # runs first: finish launches, then close
            front.state.scd = lazy.state = front.scd = state
            if state.settings.scheduler:
                _start_scheduler(front, state, stack)
            if freeze_gc:
                gc.freeze()
            try:
                yield
            finally:
                front.scd = None

    routes = [
        Route("/webhooks/{app}", receive_webhook, methods=["POST"]),
        Route("/api/v1/apps/{app}/runs", manual_run, methods=["POST"]),
        Route("/invoke", timer_invoke, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    front = TriggerFront(routes=routes, lifespan=lifespan)
    install(front)
    lazy = _LazyApi(front)
    front.router.default = lazy
    return front


def _start_scheduler(
    front: TriggerFront, state: TriggerState, stack: contextlib.AsyncExitStack
) -> None:
    """The local scheduler, following the app catalogue; ``front.state.scd_scheduler``
    lets the apps API wake it after a change."""
    from functions.trigger.catalogue import merged_apps
    from functions.trigger.scheduler import Scheduler

    def catalogue() -> list[App]:
        return [app for app, _ in merged_apps(state)]

    launcher, grace = state.launcher, state.settings.scheduler_grace_seconds
    scheduler = Scheduler(
        catalogue,
        launcher.store,
        launcher.invoker,
        grace=timedelta(seconds=grace),
        lifecycle=launcher.lifecycle,
        workers=launcher.workers,
    )
    scheduler.start()
    front.state.scd_scheduler = scheduler
    stack.push_async_callback(scheduler.stop)


def _open(
    settings: Settings,
    config: Config | None,
    store: RunStore | None,
    invoker: Invoker | None,
    stack: contextlib.AsyncExitStack,
    lifecycle: Lifecycle | None = None,
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
    # tokens created through the API count on every route, the hot ones included
    config.tokens.attach(store)
    launcher = Launcher(store, invoker, lifecycle, workers=config.workers)
    return TriggerState(settings=settings, config=config, launcher=launcher)


def _close_later(stack: contextlib.AsyncExitStack, backend: Any) -> None:
    close = getattr(backend, "close", None)
    if callable(close):
        stack.callback(close)


app = create_app(freeze_gc=True)
