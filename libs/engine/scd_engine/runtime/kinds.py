"""The three step kinds: ``run`` (a shell), ``uses`` (a plugin), ``script`` (Python).

Contract: each ``execute_*`` function takes the run's :class:`Scope` and one
:class:`StepCall` (everything already rendered by the runner) and returns a
:class:`Finished`; a failing step is a result, never an exception. Output goes
to ``call.writer``; outputs and exported variables go through the step's
``$SCD_OUTPUT``/``$SCD_ENV`` files, which the runner reads afterwards.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from scd_engine.runtime.process import ProcessResult, run_process

if TYPE_CHECKING:
    # Imported when a plugin step runs: a pipeline of shell steps never needs them.
    from scd_engine.plugins.context import AtEnd, PluginContext
    from scd_engine.runtime.sandbox import Sandbox

__all__ = ["Finished", "Scope", "StepCall", "execute_plugin", "execute_run", "execute_script"]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
SHELLS: dict[str, tuple[tuple[str, ...], str]] = {
    "bash": (("bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "{0}"), ".sh"),
    "sh": (("sh", "-e", "{0}"), ".sh"),
    "python": ((sys.executable, "-u", "{0}"), ".py"),
}


class _Writer(Protocol):
    def write(self, data: bytes) -> object: ...

    def line(self, text: str) -> object: ...


class _Masker(Protocol):
    def add(self, value: str) -> None: ...

    def mask(self, text: str) -> str: ...


@dataclass
class Scope:
    """What every step of one run shares."""

    run_id: str
    workspace: Path
    tmp: Path
    secrets: Mapping[str, str]
    masker: _Masker
    cache_dir: Path
    kill: threading.Event
    grace: float
    groups: list[int] = field(default_factory=list)
    hooks: list[tuple[str, AtEnd]] = field(default_factory=list)
    prelude: Path | None = None
    sandbox: Sandbox | None = None  # confines run and script steps when set
    hidden: tuple[Path, ...] = ()  # what the sandbox must never show (scd's data dir)


@dataclass
class StepCall:
    """One step, rendered and ready to execute."""

    key: str
    index: int
    kind: str
    body: Any  # the run text, the plugin name or the script source
    inputs: dict[str, Any]
    shell: str | None
    cwd: Path
    env: dict[str, str]
    contexts: dict[str, Any]
    writer: _Writer
    output_file: Path
    env_file: Path
    timeout: float | None
    cancel: threading.Event | None


@dataclass
class Finished:
    """How a step ended."""

    ok: bool
    message: str | None = None
    timed_out: bool = False
    cancelled: bool = False
    outputs: dict[str, str] = field(default_factory=dict)
    # what the step's process used (ProcessResult's); None for a step without one
    cpu_seconds: float | None = None
    max_rss_bytes: int | None = None


def execute_run(scope: Scope, call: StepCall) -> Finished:
    """Write the script to a file and run it with the step's shell."""
    template, ext = _shell(call.shell)
    path = scope.tmp / f"step-{call.index}{ext}"
    _write_new(path, str(call.body).encode("utf-8"))
    argv = [str(path) if part == "{0}" else part.replace("{0}", str(path)) for part in template]
    return _process(scope, call, argv)


def execute_script(scope: Scope, call: StepCall) -> Finished:
    """Run inline Python through the prelude, contexts passed in a private file."""
    from scd_engine.runtime.script_prelude import PRELUDE

    if scope.prelude is None:
        scope.prelude = scope.tmp / "prelude.py"
        scope.prelude.write_text(PRELUDE, encoding="utf-8")
    source = scope.tmp / f"script-{call.index}.py"
    source.write_text(str(call.body), encoding="utf-8")
    ctx_file = scope.tmp / f"contexts-{call.index}.json"
    fd = os.open(ctx_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(call.contexts, f, default=str)
    argv = [sys.executable, "-u", str(scope.prelude), str(ctx_file), str(source)]
    try:
        return _process(scope, call, argv)
    finally:
        ctx_file.unlink(missing_ok=True)


def execute_plugin(scope: Scope, call: StepCall) -> Finished:
    """Resolve and call the plugin in a thread; honour timeout, cancel and kill."""
    from scd_engine.plugins.resolver import resolve_plugin

    stop = threading.Event()
    ctx = _plugin_context(scope, call, stop)
    result: list[Finished] = []

    def target() -> None:
        try:
            plugin = resolve_plugin(str(call.body), scope.workspace)
            returned = plugin(dict(call.inputs), ctx)
            result.append(Finished(ok=True, outputs=stringify(returned or {})))
        except Exception as exc:
            if "SCD_DEBUG" in call.env or "SCD_DEBUG" in os.environ:
                import traceback

                call.writer.line(traceback.format_exc().rstrip())
            result.append(Finished(ok=False, message=f"{type(exc).__name__}: {exc}"))

    ended = _wait(scope, threading.Thread(target=target, daemon=True), call, stop)
    scope.hooks.extend(ctx.at_end_hooks)
    if ended is not None:
        return ended
    return result[0]


def run_hook(scope: Scope, call: StepCall, hook: AtEnd, status: str) -> Finished:
    """Run an end-of-run hook a plugin registered, as a step of its own."""
    stop = threading.Event()
    ctx = _plugin_context(scope, call, stop)
    failure: list[str] = []

    def target() -> None:
        try:
            hook(ctx, status)
        except Exception as exc:
            failure.append(f"{type(exc).__name__}: {exc}")

    ended = _wait(scope, threading.Thread(target=target, daemon=True), call, stop)
    if ended is not None:
        return ended
    return Finished(ok=not failure, message=failure[0] if failure else None)


def stringify(values: Mapping[str, Any]) -> dict[str, str]:
    """Outputs as text, as ``${{ }}`` prints values: true/false, null empty, JSON for
    lists and mappings, numbers without a needless ``.0``."""
    from scd_engine.expressions import to_text

    return {str(name): to_text(value) for name, value in values.items()}


def _plugin_context(scope: Scope, call: StepCall, stop: threading.Event) -> PluginContext:
    from scd_engine.plugins.context import PluginContext

    line: Callable[[str], None] = call.writer.line  # type: ignore[assignment]
    return PluginContext(
        run_id=scope.run_id,
        step=call.key,
        workspace=scope.workspace,
        cwd=call.cwd,
        env=dict(call.env),
        secrets=scope.secrets,
        masker=scope.masker,
        cancelled=stop,
        contexts=call.contexts,
        cache_dir=scope.cache_dir,
        env_file=call.env_file,
        logger=line,
    )


def _wait(
    scope: Scope, thread: threading.Thread, call: StepCall, stop: threading.Event
) -> Finished | None:
    """Join ``thread``; a Finished when timeout, cancel or kill ended the step first.

    A plugin cannot be killed: it is told through ``ctx.cancelled`` and given the
    grace period to return; after that the runner moves on without it.
    """
    thread.start()
    deadline = None if call.timeout is None else time.monotonic() + call.timeout
    ended: Finished | None = None
    stop_at = 0.0
    while True:
        thread.join(0.05)
        if not thread.is_alive():
            return ended
        now = time.monotonic()
        if ended is None:
            if scope.kill.is_set() or (call.cancel is not None and call.cancel.is_set()):
                ended = _cancelled()
            elif deadline is not None and now >= deadline:
                ended = Finished(ok=False, timed_out=True)
            if ended is not None:
                stop.set()
                stop_at = now
        elif now - stop_at >= scope.grace or scope.kill.is_set():
            return ended


def _process(scope: Scope, call: StepCall, argv: list[str]) -> Finished:
    if scope.sandbox is not None:
        shared_tmp = scope.tmp / "tmp"  # the run's /tmp: its steps share it
        shared_tmp.mkdir(exist_ok=True)
        from scd_engine.runtime.sandbox import borrowed_objects

        argv = scope.sandbox.wrap(
            argv, workspace=scope.workspace, cwd=call.cwd, hidden=scope.hidden,
            writable=(scope.tmp,), tmp=shared_tmp,
            readable=borrowed_objects(scope.workspace),
        )  # fmt: skip
    try:
        res: ProcessResult = run_process(
            argv,
            sink=call.writer.write,
            env=call.env,
            cwd=call.cwd,
            timeout=call.timeout,
            cancel=call.cancel,
            kill=scope.kill,
            grace=scope.grace,
        )
    except OSError as exc:
        return Finished(ok=False, message=f"cannot start {argv[0]}: {exc.strerror or exc}")
    scope.groups.append(res.pgid)
    finished = _ending(res)
    finished.cpu_seconds, finished.max_rss_bytes = res.cpu_seconds, res.max_rss_bytes
    return finished


def _ending(res: ProcessResult) -> Finished:
    if res.cancelled:
        return _cancelled()
    if res.timed_out:
        return Finished(ok=False, timed_out=True)
    if res.code == 0:
        return Finished(ok=True)
    if res.code < 0:
        return Finished(ok=False, message=f"process killed by signal {-res.code}")
    return Finished(ok=False, message=f"process completed with exit code {res.code}")


def _write_new(path: Path, data: bytes) -> None:
    """Write a new private file with one ``open`` and (for any script) one ``write``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _shell(shell: str | None) -> tuple[tuple[str, ...], str]:
    return SHELLS[shell or "bash"]


def _cancelled() -> Finished:
    return Finished(ok=False, cancelled=True, message="cancelled: the run was cancelled")
