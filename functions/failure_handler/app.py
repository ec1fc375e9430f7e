"""The failure handler function: FC's ``onFailure`` destination for the worker.

Routes (FC's custom runtime contract, reference/FC.md section 1):

- ``POST /invoke``: the body is FC's destination record. The task it names is
  ended ``error`` with FC's reason unless already final (``Handler``); 200
  ``{"run_id", "task", "ended", "left"}``, also for a repeated delivery. A body
  that is not a record naming a job answers 400, a run the store does not have
  404, each with ``x-fc-status: 404`` (a function error FC records) and a short
  message; a store failure 500, so the destination shows as failed.
- ``POST /initialize``: opens the store and the sink before traffic; 200.
- ``GET /healthz``: 200.

``create_app(settings)`` builds it; ``app`` is what the bootstrap serves,
configured from ``SCD_*`` (``SCD_STORE``, ``SCD_LOG_SINK``: the worker's own).
Imports neither the engine nor webhook code.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator

import anyio.to_thread
from scd_core.errors import BadRequest, NotFound, ScdError
from scd_core.settings import Settings
from scd_core.store import RunStore
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from functions.failure_handler.destination import parse
from functions.failure_handler.handler import Handler

__all__ = ["app", "create_app"]

_log = logging.getLogger("scd.failure_handler")
_FC_ERROR = {"x-fc-status": "404"}


class _State:
    """The store and sink, opened once on first use."""

    def __init__(self, settings: Settings, store: RunStore | None) -> None:
        self.settings = settings
        self._store = store
        self._handler: Handler | None = None
        self._lock = threading.Lock()

    def handler(self) -> Handler:
        with self._lock:
            if self._handler is None:
                from scd_core.sinks import open_sink
                from scd_core.stores import open_store

                store = self._store or open_store(self.settings.store)
                self._handler = Handler(store, open_sink(self.settings.log_sink))
            return self._handler

    def close(self) -> None:
        if self._handler is not None and self._store is None:
            self._handler.store.close()


def create_app(settings: Settings | None = None, *, store: RunStore | None = None) -> Starlette:
    """The failure handler app; ``settings`` default to ``Settings.from_env()``."""

    @contextlib.asynccontextmanager
    async def lifespan(api: Starlette) -> AsyncIterator[None]:
        api.state.handler = state = _State(settings or Settings.from_env(), store)
        try:
            yield
        finally:
            state.close()

    async def invoke(request: Request) -> JSONResponse:
        state: _State = request.app.state.handler
        body = await request.body()
        try:
            failure = parse(body)
            handled = await anyio.to_thread.run_sync(lambda: state.handler().handle(failure))
        except BadRequest as exc:
            return JSONResponse({"error": str(exc)}, 400, _FC_ERROR)
        except NotFound as exc:
            return JSONResponse({"error": str(exc)}, 404, _FC_ERROR)
        except ScdError as exc:
            _log.error("failure handler: %s", type(exc).__name__)
            return JSONResponse({"error": f"store failure: {type(exc).__name__}"}, 500, _FC_ERROR)
        return JSONResponse(
            {
                "run_id": handled.run_id,
                "task": handled.task,
                "ended": handled.ended,
                "left": handled.left,
            }
        )

    async def initialize(request: Request) -> JSONResponse:
        state: _State = request.app.state.handler
        try:
            await anyio.to_thread.run_sync(state.handler)
        except ScdError as exc:
            return JSONResponse({"error": str(exc)}, 500, _FC_ERROR)
        return JSONResponse({"ok": True})

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    routes = [
        Route("/invoke", invoke, methods=["POST"]),
        Route("/initialize", initialize, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


app = create_app()
