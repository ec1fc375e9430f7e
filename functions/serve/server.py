"""``scd serve``: the trigger, the worker processes, the local invoker, the scheduler
and the reaper, on one machine.

Contract: :func:`serve` blocks until SIGINT or SIGTERM, then shuts down in order:
the trigger stops accepting (uvicorn's shutdown), the invoker stops starting
jobs, running jobs get ``grace_s`` to finish, then each running run gets a cancel
request (recorded, so it ends ``cancelled``) and the workers their pre-stop; the
worker processes are stopped last. Queued jobs stay in ``<data_dir>/queue.db``
and run after the next start. A second signal skips the waiting. Start-up
problems (a bad config, a port in use, the embedded defaults on a public
address) raise ``ConfigError`` before anything runs. Returns 0.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from scd_core.datadir import private_data_dir
from scd_core.errors import ConfigError, ScdError
from scd_core.settings import WORKER_TOKEN_HEADER, Settings
from scd_core.store import RunStore

from functions.serve.defaults import DEMO_TOKEN, ConfigChoice, choose_config, demo_secret
from functions.serve.prune import Pruner, prune
from functions.serve.redisworkers import RedisWorkerPool
from functions.serve.workers import WorkerPool

if TYPE_CHECKING:
    from scd_core.invokers.local import LocalInvoker
    from scd_core.invokers.redisstream import RedisInvoker

__all__ = ["ServeOptions", "serve"]

log = logging.getLogger("scd.serve")
_TICK_S = 0.5


@dataclass(frozen=True)
class ServeOptions:
    """What ``scd serve`` was asked for; ``environ`` defaults to ``os.environ``."""

    config: Path | None = None
    host: str = "127.0.0.1"
    port: int = 9000
    data_dir: Path = Path(".scd")
    workers: int = 2
    grace_s: float = 10.0
    prune_every_s: float = 86400.0  # how often logs, workspaces and mirrors are pruned
    prune_older_than_s: float = 30 * 86400.0  # what is pruned: unused that long
    environ: Mapping[str, str] | None = field(default=None, repr=False)
    # redis://...: jobs go on this Redis Stream and ``scd worker`` processes run them
    redis: str | None = field(default=None, repr=False)


class _Signals:
    """SIGINT/SIGTERM: the first asks to stop, a second to hurry."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.hurry = threading.Event()
        self._old: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        (self.hurry if self.stop.is_set() else self.stop).set()


def serve(options: ServeOptions, echo: Callable[[str], None] = print) -> int:
    """Run everything until a signal; see the module docstring."""
    environ = dict(os.environ if options.environ is None else options.environ)
    if options.workers < 1:
        raise ConfigError("--workers must be at least 1")
    data_dir = private_data_dir(options.data_dir.resolve())
    choice = choose_config(options.config, data_dir, environ)
    if choice.embedded:
        _require_loopback(options.host)
        environ["SCD_DEMO_SECRET"] = demo_secret(environ)
    from functions.appconfig import load_config

    config = load_config(choice.path, environ)
    settings = _settings(environ, choice, data_dir)
    listener = _bind(options.host, options.port)
    signals = _Signals()
    signals.install()
    try:
        with contextlib.ExitStack() as stack:
            stack.callback(listener.close)
            _Instance(settings, config, options, environ, listener, signals, stack).run(
                choice, echo
            )
    finally:
        signals.restore()
    return 0


class _Instance:
    """The running parts of one ``scd serve`` and their order of stopping."""

    def __init__(
        self,
        settings: Settings,
        config: Any,
        options: ServeOptions,
        environ: dict[str, str],
        listener: socket.socket,
        signals: _Signals,
        stack: contextlib.ExitStack,
    ) -> None:
        from scd_core.invokers.local import LocalInvoker
        from scd_core.invokers.redisstream import RedisInvoker
        from scd_core.sinks import open_sink
        from scd_core.stores import open_store

        from functions.serve.wiring import Destinations, Reaper

        self.settings = settings
        self.config = config
        self.options = options
        self.signals = signals
        self.listener = listener
        self.store: RunStore = open_store(settings.store)
        stack.callback(self.store.close)
        _end_unreadable(self.store)
        self.sink = open_sink(settings.log_sink)
        from scd_core.lifecycle import Lifecycle

        from functions.report import reporting

        # one lifecycle for every writer in this process, so its listeners hear all
        self.lifecycle = Lifecycle(self.store)
        self.reporting = reporting(
            settings.data_dir, self.store, self._load_app, environ, settings.public_url
        )
        stack.callback(self.reporting.close)
        self.lifecycle.listen(self.reporting.reporter)
        destinations = Destinations(self.store, self.sink, self.lifecycle)
        self.pool: WorkerPool | RedisWorkerPool
        self.invoker: LocalInvoker | RedisInvoker
        # made anew at each start: only this invoker and these workers know it
        worker_token = self.worker_token = secrets.token_urlsafe(32)
        env = {**_worker_env(environ, settings), "SCD_WORKER_TOKEN": worker_token}
        if options.redis:
            self.invoker = RedisInvoker(options.redis, on_stop=destinations.on_stop)
            stack.callback(self.invoker.close)
            self.pool = RedisWorkerPool(
                options.workers, options.redis, env, _log_dir(settings), options.grace_s
            )
        else:
            self.pool = WorkerPool(options.workers, env, _log_dir(settings))
            self.invoker = LocalInvoker(
                settings.data_dir / "queue.db",
                self.pool.urls,
                on_failure=destinations.on_failure,
                on_stop=destinations.on_stop,
                worker_token=worker_token,
            )
        self.reaper = Reaper(self.store, self.sink, lifecycle=self.lifecycle)
        self.pruner = _pruner(settings, options)

    def _load_app(self, name: str) -> Any:
        """The app ``name`` as this process knows it (scd.yaml's, then the store's)."""
        from functions.appconfig import stored_app

        app = self.config.apps.get(name)
        if app is not None:
            return app
        spec = self.store.get_app(name)
        return None if spec is None else stored_app(name, spec)

    def run(self, choice: ConfigChoice, echo: Callable[[str], None]) -> None:
        import uvicorn
        from scd_core.invokers.local import LocalInvoker

        from functions.trigger.app import create_app

        self.pool.start()
        if isinstance(self.invoker, LocalInvoker):
            self.invoker.start()
        self.reaper.start()
        self.pruner.start()
        api = create_app(
            self.settings,
            config=self.config,
            store=self.store,
            invoker=self.invoker,
            freeze_gc=True,
            lifecycle=self.lifecycle,
        )
        api.state.scd_log_sink = self.sink
        server = uvicorn.Server(
            uvicorn.Config(
                api,
                log_level="warning",
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=5,
            )
        )
        thread = threading.Thread(target=_run_server, args=(server, self.listener), daemon=True)
        thread.start()
        try:
            while not server.started:
                if not thread.is_alive():
                    raise ConfigError("the trigger did not start (see the log above)")
                time.sleep(0.02)
            echo(_banner(self.url, self.settings, choice, self.pool, self.config))
            while not self.signals.stop.wait(_TICK_S):
                self.pool.check()
            echo("scd serve: stopping (Ctrl-C again to skip the grace period)")
        finally:
            server.should_exit = True
            thread.join(15)
            self._shut_down(echo)

    @property
    def url(self) -> str:
        host, port = self.listener.getsockname()[:2]
        return f"http://{_url_host(host)}:{port}"

    def _shut_down(self, echo: Callable[[str], None]) -> None:
        grace = self.options.grace_s
        cancel_wait = min(self.settings.step_grace_seconds, 10.0) + 5.0
        closer = threading.Thread(
            target=self._close_invoker, args=(grace + cancel_wait,), daemon=True
        )
        closer.start()
        if not self._wait(closer, grace):
            running = self._running()
            echo(f"scd serve: grace period over; cancelling {len(running)} running run(s)")
            for run_id in running:
                with contextlib.suppress(ScdError):
                    self.store.request_control(run_id, "cancel")
            self._wait(closer, cancel_wait)
        if self._running():
            self._pre_stop()
        self._wait(closer, 5.0)
        self.pool.stop(timeout_s=10.0)
        self.reaper.stop()
        self.pruner.stop()
        echo("scd serve: stopped")

    def _close_invoker(self, timeout_s: float) -> None:
        from scd_core.invokers.local import LocalInvoker

        if isinstance(self.invoker, LocalInvoker):
            self.invoker.close(timeout_s=timeout_s)
        else:  # the workers let running jobs finish on SIGTERM (RedisWorkerPool.stop)
            self.invoker.close()

    def _wait(self, thread: threading.Thread, seconds: float) -> bool:
        """Join ``thread`` for up to ``seconds`` (less after a second signal); whether it ended."""
        deadline = time.monotonic() + seconds
        while thread.is_alive() and time.monotonic() < deadline:
            if self.signals.hurry.is_set():
                break
            thread.join(0.1)
        return not thread.is_alive()

    def _running(self) -> list[str]:
        try:
            runs, _ = self.store.list_runs(status="running", limit=1000)
        except ScdError:
            return []
        return [run.id for run in runs]

    def _pre_stop(self) -> None:
        """FC's pre-stop on every worker: running jobs end ``error`` "worker interrupted"."""
        import httpx

        headers = {WORKER_TOKEN_HEADER: self.worker_token}
        for url in self.pool.urls:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{url}/pre-stop", headers=headers, timeout=15.0)


def _run_server(server: Any, listener: socket.socket) -> None:
    # uvicorn raises SystemExit when the lifespan fails; the caller sees the thread end.
    with contextlib.suppress(SystemExit):
        server.run(sockets=[listener])


def _settings(environ: Mapping[str, str], choice: ConfigChoice, data_dir: Path) -> Settings:
    base = Settings.from_env(environ)
    values = base.model_dump()
    values.update(config=choice.path.resolve(), data_dir=data_dir, scheduler=True)
    if not environ.get("SCD_STORE"):
        values["store"] = ""  # derived from data_dir
    if not environ.get("SCD_LOG_SINK"):
        values["log_sink"] = ""  # derived from data_dir
    return Settings.model_validate(values)


def _worker_env(environ: Mapping[str, str], settings: Settings) -> dict[str, str]:
    env = dict(environ)
    env.update(
        SCD_CONFIG=str(settings.config),
        SCD_DATA_DIR=str(settings.data_dir),
        SCD_STORE=settings.store,
        SCD_LOG_SINK=settings.log_sink,
        SCD_SCHEDULER="false",
        SCD_LEASE_TTL_SECONDS=repr(settings.lease_ttl_seconds),
        SCD_STEP_GRACE_SECONDS=repr(settings.step_grace_seconds),
    )
    # the workers enqueue a DAG's next tasks on the same queue (no delivery of their own)
    env["SCD_INVOKER"] = f"local:///{settings.data_dir / 'queue.db'}"
    return env


def _end_unreadable(store: RunStore) -> None:
    """Repair what an earlier release left: unfinished runs whose records cannot be read
    end ``error`` instead of staying queued for ever (SQLite; other stores hold only
    records this release wrote)."""
    from scd_core.stores.sqlite import SqliteRunStore

    if isinstance(store, SqliteRunStore):
        for run_id in store.end_unreadable():
            log.warning("run %s: its record cannot be read; ended error", run_id)


def _steps_hint(settings: Settings) -> str:
    """Whether steps are confined: the banner says so when they share scd's user."""
    if settings.sandbox != "none":
        from scd_engine.runtime.sandbox import find_sandbox

        if find_sandbox() is not None:
            return "sandboxed with bubblewrap: each sees its workspace, not the data dir"
    return (
        "run as this user and can read the data dir (install bubblewrap to confine "
        "them, or set SCD_SANDBOX=bwrap to require it)"
    )


def _pruner(settings: Settings, options: ServeOptions) -> Pruner:
    """The daily prune of the data dir (logs only when they are files there or elsewhere)."""
    from functions.commands.prune import log_dir

    logs = log_dir(settings.data_dir, settings.log_sink)
    return Pruner(
        lambda: prune(settings.data_dir, options.prune_older_than_s, log_dir=logs),
        options.prune_every_s,
    )


def _log_dir(settings: Settings) -> Path:
    return settings.data_dir / "serve"


def _require_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"refusing to serve the embedded demo defaults on {host}: their webhook secret "
            "and token are public; pass --config with your own scd.yaml"
        )


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _login_hint(choice: ConfigChoice) -> str:
    """How to get a token the dashboard and ``scd login`` accept (never a configured one)."""
    if choice.embedded:
        return f"with the demo token {DEMO_TOKEN}  (or: scd login --token {DEMO_TOKEN})"
    return "with a token of scd.yaml's tokens (make one: scd token new), then: scd login"


def _banner(
    url: str,
    settings: Settings,
    choice: ConfigChoice,
    pool: WorkerPool | RedisWorkerPool,
    config: Any,
) -> str:
    source = (
        f"embedded defaults (no scd.yaml found; written to {choice.path})"
        if choice.embedded
        else str(choice.path)
    )
    lines = [
        f"scd serve: listening on {url}",
        f"  data dir  {settings.data_dir}  (state, logs, queue)",
        f"  config    {source}",
        f"  workers   {len(pool.pids)}  ({', '.join(pool.urls) or 'scd worker --redis'})",
        "  apps      (webhook URL)",
    ]
    width = max((len(name) for name in config.apps), default=0)
    for name in config.apps:
        lines.append(f"    {name:<{width}}  POST {url}/webhooks/{name}")
    if not config.apps:
        lines.append("    (none)")
    lines.append(f"  steps     {_steps_hint(settings)}")
    lines.append(f"  dashboard {url}/ui/  (API docs: {url}/docs)")
    lines.append(f"  log in    {_login_hint(choice)}")
    if choice.embedded:
        lines.append("  try it    scd demo   (in another terminal: a real run in seconds)")
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)
