"""serverless-cd plugins (npm packages, local JavaScript) run through a Node bridge.

Contract: a :class:`NodePlugin` is a scd plugin (``(inputs, ctx) -> outputs``). Each
call finds ``node`` on the step's ``PATH`` (a missing Node fails the step saying how
to install it), installs the package into the plugin cache on first use
(:mod:`scd_engine.plugins.npm`), then runs ``bridge.js`` in a process of its own
(its own process group, the step's environment and directory) which calls the
module's ``run(inputs, context, logger)``: ``inputs`` are the step's, already
resolved by scd (``@serverless-cd/core``'s ``getInputs`` returns them unchanged
instead of rendering event text as art-template again); ``context`` has the shape
serverless-cd's engine passes (:func:`sd_context`); the logger's lines and the
process's own output go through masking into the step log as they come; the returned
object becomes the step's outputs. A module that also exports ``postRun`` gets it
called after the last step (scd's end-of-run hooks run in reverse order of
registration, as serverless-cd appends its ``Post Run`` steps in reverse with
``if: always()``). A load failure, a missing export, a throw or a crash fails the step
with the message. Cancel and timeout kill the process group.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from scd_core.errors import ScdError

from scd_engine.plugins.context import PluginContext
from scd_engine.plugins.npm import NpmSpec, install, install_dependencies
from scd_engine.runtime.process import kill_group

__all__ = ["BRIDGE", "NodePlugin", "sd_context"]

BRIDGE = Path(__file__).with_name("bridge.js")
_NO_NODE = (
    "Node.js is needed to run the npm plugin {name!r}: no 'node' on the step's PATH;"
    " hint: install it (Debian: apt-get install nodejs npm; FC's custom runtimes ship it)"
)


class NodePluginError(ScdError):
    """A serverless-cd plugin failed to load or run."""

    code = "plugin_error"


class NodePlugin:
    """One ``plugin:`` naming an npm package (``spec``) or a local JavaScript ``path``."""

    def __init__(self, name: str, *, spec: NpmSpec | None = None, path: Path | None = None):
        if (spec is None) == (path is None):
            raise ValueError("a NodePlugin needs exactly one of spec and path")
        self.name, self.spec, self.path = name, spec, path

    def __call__(self, inputs: dict[str, Any], ctx: PluginContext) -> Mapping[str, Any]:
        node = shutil.which("node", path=ctx.env.get("PATH"))
        if node is None:
            raise NodePluginError(_NO_NODE.format(name=self.name))
        module, node_path = self._module(ctx)
        steps = ctx.contexts.get("steps") or {}
        step_count = str(len(steps) + 1)
        context = sd_context(ctx, step_count=step_count, status=_status_so_far(steps))
        outcome = _bridge(node, module, self.name, "run", inputs, context, ctx, node_path)
        if outcome.get("postRun"):

            def post_run(post: PluginContext, status: str) -> None:
                later = post.contexts.get("steps") or {}
                count = str(len(later) + 1)
                context = sd_context(post, step_count=count, status=status, run_step=step_count)
                _bridge(node, module, self.name, "postRun", inputs, context, post, node_path)

            ctx.at_end(post_run)
        outputs = outcome.get("outputs")
        return outputs if isinstance(outputs, dict) else {}

    def _module(self, ctx: PluginContext) -> tuple[Path, Path | None]:
        if self.spec is not None:
            return install(self.spec, ctx.cache_dir, env=ctx.env, log=ctx.log), None
        assert self.path is not None
        folder = self.path if self.path.is_dir() else self.path.parent
        deps = install_dependencies(folder, ctx.cache_dir, env=ctx.env, log=ctx.log)
        return self.path, deps


def sd_context(
    ctx: PluginContext, *, step_count: str, status: str, run_step: str | None = None
) -> dict[str, Any]:
    """The ``context`` serverless-cd's engine hands a plugin, from scd's contexts.

    ``{cwd, stepCount, steps: [...], env, status, completed, inputs, $variables}``:
    ``inputs`` holds the engine's inputs (``git secrets task app sts env`` and the
    run's inputs spread at the top, as serverless-cd's worker spreads manual inputs);
    ``steps`` lists the steps so far as ``{stepCount, id, status, outputs}`` with this
    one last (``type`` ``run``, or ``postRun`` with ``runStepCount``), so
    ``getStepContext`` from ``@serverless-cd/core`` finds them; ``$variables`` is the
    template scope (the inputs, ``status``, ``steps`` by id, ``env``, ``inputs``).
    """
    contexts = ctx.contexts
    env = dict(contexts.get("env") or {})
    engine_inputs: dict[str, Any] = {
        **(contexts.get("inputs") or {}),
        "git": contexts.get("git") or {},
        "secrets": dict(contexts.get("secrets") or {}),
        "cloudSecrets": {},
        "task": contexts.get("task") or {},
        "app": contexts.get("app") or {},
        "sts": contexts.get("sts") or {},
        "env": env,
    }
    by_id = {
        key: {"status": entry.get("status"), "outputs": entry.get("outputs") or {}}
        for key, entry in (contexts.get("steps") or {}).items()
    }
    listed: list[dict[str, Any]] = [
        {"stepCount": str(n), "id": key, **entry} for n, (key, entry) in enumerate(by_id.items(), 1)
    ]
    current: dict[str, Any] = {"stepCount": step_count, "id": ctx.step, "status": "running"}
    current.update({"type": "postRun", "runStepCount": run_step} if run_step else {"type": "run"})
    for entry in listed:
        if run_step is not None and entry["stepCount"] == run_step:
            entry["type"] = "run"
    return {
        "cwd": str(ctx.workspace),
        "stepCount": step_count,
        "steps": [*listed, current],
        "env": env,
        "status": status,
        "completed": False,
        "inputs": engine_inputs,
        "sts": engine_inputs["sts"],
        "$variables": {
            **engine_inputs,
            "status": status,
            "steps": by_id,
            "env": env,
            "inputs": engine_inputs,
        },
    }


def _status_so_far(steps: Mapping[str, Any]) -> str:
    failed = any(entry.get("conclusion") == "failure" for entry in steps.values())
    return "failure" if failed else "success"


def _bridge(
    node: str,
    module: Path,
    name: str,
    phase: str,
    inputs: Mapping[str, Any],
    context: Mapping[str, Any],
    ctx: PluginContext,
    node_path: Path | None,
) -> dict[str, Any]:
    """Run one phase in a Node process; the bridge's result message, or raise."""
    request = json.dumps(
        {"module": str(module), "name": name, "phase": phase, "inputs": inputs, "context": context},
        default=str,
    ).encode()
    read_fd, write_fd = os.pipe()
    env = {**ctx.env, "SCD_BRIDGE_FD": str(write_fd)}
    if node_path is not None:
        env["NODE_PATH"] = str(node_path)
    try:
        proc = subprocess.Popen(  # an argv, no shell
            [node, str(BRIDGE)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=ctx.cwd,
            env=env,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
    except OSError as exc:
        os.close(read_fd)
        raise NodePluginError(f"cannot start node: {exc.strerror or exc}") from exc
    finally:
        os.close(write_fd)
    lock = threading.Lock()
    messages: list[dict[str, Any]] = []

    def log(text: str) -> None:
        with lock:
            ctx.log(text)

    assert proc.stdout is not None
    assert proc.stdin is not None
    readers = [
        threading.Thread(target=_pump_output, args=(proc.stdout, log), daemon=True),
        threading.Thread(
            target=_pump_channel, args=(os.fdopen(read_fd, "rb"), log, messages), daemon=True
        ),
    ]
    for reader in readers:
        reader.start()
    try:
        proc.stdin.write(request)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the process died at once: its exit code says so below
    _wait(proc, ctx)
    for reader in readers:
        reader.join()
    return _outcome(name, phase, proc.returncode, messages)


def _wait(proc: subprocess.Popen[bytes], ctx: PluginContext) -> None:
    """Wait for ``proc``; kill its group when the step is cancelled or timed out."""
    while True:
        try:
            proc.wait(timeout=0.05)
            return
        except subprocess.TimeoutExpired:
            if ctx.cancelled.is_set():
                kill_group(proc.pid)  # its own session: the group is the pid
                proc.wait()
                return


def _pump_output(stream: IO[bytes], log: Callable[[str], None]) -> None:
    with stream:
        for raw in stream:
            log(raw.decode("utf-8", "replace").rstrip("\r\n"))


def _pump_channel(
    stream: IO[bytes], log: Callable[[str], None], messages: list[dict[str, Any]]
) -> None:
    with stream:
        for raw in stream:
            try:
                message = json.loads(raw)
            except ValueError:
                continue  # not the bridge's: nothing else writes here
            if isinstance(message, dict) and message.get("t") == "log":
                log(str(message.get("text", "")))
            elif isinstance(message, dict):
                messages.append(message)


def _outcome(
    name: str, phase: str, code: int | None, messages: list[dict[str, Any]]
) -> dict[str, Any]:
    for message in messages:
        if message.get("t") == "error":
            raise NodePluginError(f"plugin {name}: {message.get('message')}")
        if message.get("t") == "result":
            return message
    if code is not None and code < 0:
        raise NodePluginError(f"plugin {name}: node was killed by signal {-code} during {phase}")
    raise NodePluginError(f"plugin {name}: node exited with code {code} before {phase} returned")
