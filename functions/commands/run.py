"""``scd run``: run a pipeline in the current directory, as the worker would.

Heavy modules (the engine, rich, pydantic models) are imported inside the
command, so ``scd --help`` does not pay for them. ``--event FILE`` takes either
a normalised Event (JSON with ``provider`` and ``event_name``, as the trigger
records it) or a raw provider payload, which becomes the ``event`` context of
a ``manual`` event. Without ``--event`` the ``git`` context describes the
local checkout (branch and commit read from ``.git``). Exit codes: 0 the run
succeeded, 1 it failed or was cancelled, 2 the spec or the command line is
wrong. The first Ctrl-C cancels gracefully, the second kills.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

__all__ = ["parse_fast", "register", "run_fast"]

_DEFAULT_FILE = "serverless-pipeline.yaml"


def register(app: typer.Typer) -> None:
    """Add ``scd run`` to ``app`` (typer is imported here, not by :func:`run_fast`)."""
    import typer

    def run(
        file: Path = typer.Argument(  # noqa: B008 - typer declares arguments this way
            Path(_DEFAULT_FILE), help="Pipeline spec file."
        ),
        event: Path | None = typer.Option(  # noqa: B008
            None, "--event", help="Event JSON: a normalised Event, or a raw webhook payload."
        ),
        ref: str | None = typer.Option(
            None, "--ref", help="Git ref: refs/heads/x, refs/tags/v1 or a branch name."
        ),
        input_: list[str] | None = typer.Option(  # noqa: B008
            None, "--input", help="Input NAME=VALUE, repeatable."
        ),
        secret: list[str] | None = typer.Option(  # noqa: B008
            None, "--secret", help="Secret NAME; its value is read from the environment."
        ),
        env: list[str] | None = typer.Option(  # noqa: B008
            None, "--env", help="Extra environment variable NAME=VALUE, repeatable."
        ),
        data_dir: Path = typer.Option(  # noqa: B008
            Path(".scd"), "--data-dir", help="Where logs and the cache go."
        ),
        grace: float = typer.Option(
            10.0, "--grace", help="Seconds between SIGTERM and SIGKILL on cancel or timeout."
        ),
        json_: bool = typer.Option(
            False, "--json", help="Print a JSON summary at the end (live output to stderr)."
        ),
    ) -> None:
        """Run a pipeline spec in the current directory, as the worker would.

        Exit 0 when the run succeeds, 1 when it fails or is cancelled, 2 for a spec or
        usage error. Ctrl-C cancels (always() steps still run); a second Ctrl-C kills.
        """
        code = _session(
            file=file,
            event_file=event,
            ref=ref,
            inputs=input_ or [],
            secret_names=secret or [],
            env=env or [],
            data_dir=data_dir,
            grace=grace,
            as_json=json_,
        )
        raise typer.Exit(code)

    app.command(name="run")(run)


# Options of ``scd run`` that take a value, by flag, and the _session keyword each fills.
_VALUED = {
    "--event": "event_file",
    "--ref": "ref",
    "--input": "inputs",
    "--secret": "secret_names",
    "--env": "env",
    "--data-dir": "data_dir",
    "--grace": "grace",
}
_REPEATED = frozenset({"inputs", "secret_names", "env"})


def parse_fast(argv: Sequence[str]) -> dict[str, Any] | None:
    """``_session``'s keywords for ``scd run``'s arguments, or None to let typer parse.

    Contract: accepts only the plain forms (``--opt value``, ``--opt=value``,
    ``--json``, at most one FILE) and gives what typer gives for them; anything
    else (``--help``, an unknown or incomplete option, a value that starts with
    ``-`` or is empty, a bad number) returns None, so typer parses it and reports
    errors its own way.
    """
    found: dict[str, Any] = {
        "file": Path(_DEFAULT_FILE),
        "event_file": None,
        "ref": None,
        "inputs": [],
        "secret_names": [],
        "env": [],
        "data_dir": Path(".scd"),
        "grace": 10.0,
        "as_json": False,
    }
    positional: list[str] = []
    items = list(argv)
    while items:
        item = items.pop(0)
        if item == "--json":
            found["as_json"] = True
            continue
        if not item.startswith("-"):
            positional.append(item)
            continue
        flag, sep, value = item.partition("=")
        key = _VALUED.get(flag)
        if key is None:
            return None
        if not sep:
            if not items:
                return None
            value = items.pop(0)
        if not value or value.startswith("-") or not _store(found, key, value):
            return None
    if len(positional) > 1 or any(not p for p in positional):
        return None
    if positional:
        found["file"] = Path(positional[0])
    return found


def _store(found: dict[str, Any], key: str, value: str) -> bool:
    if key in _REPEATED:
        found[key].append(value)
    elif key == "grace":
        try:
            found[key] = float(value)
        except ValueError:
            return False
    elif key in ("event_file", "data_dir"):
        found[key] = Path(value)
    else:
        found[key] = value
    return True


def run_fast(argv: Sequence[str]) -> int | None:
    """Run ``scd run`` without building the typer app: the exit code, or None when
    :func:`parse_fast` declines the arguments. Like click, Ctrl-C outside the run
    prints "Aborted!" and exits 1."""
    import sys

    options = parse_fast(argv)
    if options is None:
        return None
    try:
        return _session(**options)
    except KeyboardInterrupt:
        print("\nAborted!", file=sys.stderr)
        return 1


def _session(
    *,
    file: Path,
    event_file: Path | None,
    ref: str | None,
    inputs: list[str],
    secret_names: list[str],
    env: list[str],
    data_dir: Path,
    grace: float,
    as_json: bool,
) -> int:
    """Run the pipeline in ``file``; the process exit code."""
    import os
    import sys

    stream = sys.stderr if as_json else sys.stdout
    _import_models()
    try:
        secrets = {name: _env_secret(name, os.environ) for name in secret_names}
        input_map, env_map = _pairs(inputs, "--input"), _pairs(env, "--env")
        ev = _event(event_file, ref, Path.cwd())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from scd_core.errors import ScdError, SpecError
    from scd_engine.plan import compile_plan
    from scd_engine.spec import load_pipeline

    try:
        plan = compile_plan(load_pipeline(file))
    except SpecError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except ScdError as exc:  # the file is missing or unreadable
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _execute(plan, ev, secrets, input_map, env_map, data_dir, grace, as_json, stream)


def _execute(
    plan: Any,
    ev: Any,
    secrets: dict[str, str],
    inputs: dict[str, str],
    env: dict[str, str],
    data_dir: Path,
    grace: float,
    as_json: bool,
    stream: IO[str],
) -> int:
    import json
    import os
    import signal
    import time

    from scd_core.models import DEFAULT_TASK, utcnow
    from scd_engine.runtime import Runner, RunnerOptions

    run_id = f"local-{utcnow():%Y%m%d-%H%M%S}-{os.urandom(3).hex()}"
    console = _Console(stream)
    sink = _tee_sink(data_dir / "logs", console)
    options = RunnerOptions(
        Path.cwd(),
        sink=sink,
        run_id=run_id,
        event=ev,
        secrets=secrets,
        inputs=inputs,
        env=env,
        observers=[console.on_state],
        grace=grace,
        cache_dir=data_dir / "cache",
        app={"name": plan.name},
    )
    runner = Runner(options)
    interrupts = 0

    def on_signal(signum: int, frame: object) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1 and signum == signal.SIGINT:
            console.note("cancelling (Ctrl-C again to kill)")
            runner.cancel.set()
        else:
            console.note("killing")
            runner.kill()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    try:
        result = runner.run(plan.task(DEFAULT_TASK))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.finish(result.status, time.monotonic() - started, data_dir / "logs" / run_id)
    if as_json:
        summary = {
            "run_id": run_id,
            "status": result.status,
            "steps": [_step_summary(s, runner.masker.mask) for s in result.steps],
        }
        print(json.dumps(summary, indent=2))
    return 0 if result.status == "success" else 1


def _import_models() -> None:
    """Import the modules that define scd's pydantic models, with pydantic plugins off.

    Each model class asks pydantic for its plugins, and the first ask scans every
    installed distribution's entry points: tens of milliseconds of a start-up
    that 200 short steps share. ``scd run`` validates its own data and installs
    no plugin, so the scan is skipped while these modules build their models
    (as typer does for its adapters); the variable is restored afterwards. The
    garbage collector rests meanwhile, about a tenth of the import time.
    """
    import gc
    import importlib
    import os

    name = "PYDANTIC_DISABLE_PLUGINS"
    chosen = name in os.environ  # the user's own setting stands
    if not chosen:
        os.environ[name] = "1"
    collecting = gc.isenabled()
    gc.disable()  # imports make many objects and little garbage: collecting finds none
    try:
        modules = ("scd_core.models", "scd_engine.spec", "scd_engine.plan.compiler")
        for module in (*modules, "scd_engine.runtime.runner"):
            importlib.import_module(module)
    finally:
        if not chosen:
            os.environ.pop(name, None)
        if collecting:
            gc.freeze()  # what the modules made lives as long as the process: never rescan it
            gc.enable()


def _step_summary(state: Any, mask: Callable[[str], str]) -> dict[str, Any]:
    duration = None
    if state.started_at is not None and state.finished_at is not None:
        duration = round((state.finished_at - state.started_at).total_seconds(), 3)
    return {
        "id": state.id,
        "name": mask(state.name or ""),
        "status": state.status,
        "outcome": state.outcome,
        "conclusion": state.conclusion,
        "duration": duration,
        "outputs": {k: mask(v) for k, v in state.outputs.items()},
    }


def _env_secret(name: str, environ: Mapping[str, str]) -> str:
    if name not in environ:
        raise ValueError(f"--secret {name}: {name} is not set in the environment")
    return environ[name]


def _pairs(items: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"{option} {item!r}: expected NAME=VALUE")
        out[name] = value
    return out


def _event(event_file: Path | None, ref: str | None, workspace: Path) -> Any:
    """The Event of a local run: from --event, else the local checkout; --ref on top."""
    import json

    from scd_core.models import Event

    fields: dict[str, Any] = {}
    if event_file is not None:
        try:
            data = json.loads(event_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"--event {event_file}: {exc}") from exc
        if isinstance(data, dict) and "provider" in data and "event_name" in data:
            fields = dict(data)
        else:
            fields = {"payload": data if isinstance(data, dict) else {"value": data}}
    else:
        fields.update(_local_git(workspace))
    fields.setdefault("provider", "local")
    fields.setdefault("event_name", "manual")
    if ref:
        fields.update(_ref_fields(ref))
    try:
        return Event.model_validate(fields)
    except Exception as exc:  # pydantic's ValidationError, kept out of the import path
        raise ValueError(f"--event {event_file}: not a valid event: {exc}") from exc


def _ref_fields(ref: str) -> dict[str, Any]:
    if ref.startswith("refs/tags/"):
        return {"ref": ref, "tag": ref[len("refs/tags/") :], "branch": None}
    branch = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
    return {"ref": f"refs/heads/{branch}", "branch": branch, "tag": None}


def _local_git(workspace: Path) -> dict[str, Any]:
    """Branch and commit of the checkout in ``workspace``, read from .git without git."""
    git = workspace / ".git"
    try:
        head = (git / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return {}
    if not head.startswith("ref: "):
        return {"commit": head}
    ref = head[5:]
    fields: dict[str, Any] = _ref_fields(ref)
    try:
        fields["commit"] = (git / ref).read_text(encoding="utf-8").strip()
    except OSError:
        try:
            packed = (git / "packed-refs").read_text(encoding="utf-8")
        except OSError:
            return fields
        for line in packed.splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                fields["commit"] = sha
    return fields


_SYMBOLS = {
    "success": ("✓", "green"),
    "failure": ("✗", "red"),
    "cancelled": ("⊘", "yellow"),
    "skipped": ("○", "dim"),
}


class _Console:
    """Live output: a header per step, its log bytes as they come, a status line.

    rich (imported only on a terminal) draws the headers; log bytes go out as
    they are, so the step's own colours survive. Plain text when not a TTY.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.discarded = _is_devnull(stream)
        self.rich: Any = None
        if stream.isatty():
            from rich.console import Console

            self.rich = Console(file=stream, highlight=False, soft_wrap=True)

    def on_state(self, state: Any) -> None:
        """Observer: print a header when a step starts, a status line when it ends."""
        if state.status == "running":
            self._say(f"▶ {state.name}", "bold cyan")
        elif state.status in _SYMBOLS:
            symbol, style = _SYMBOLS[state.status]
            text = f"{symbol} {state.name}"
            if state.started_at is not None and state.finished_at is not None:
                text += f" ({(state.finished_at - state.started_at).total_seconds():.2f}s)"
            if state.status in ("skipped", "cancelled"):
                text += f" {state.status}"
            if state.status == "failure" and state.conclusion == "success":
                text += " failed, continue-on-error"
            self._say(text, style)

    def log(self, data: bytes) -> None:
        """Write a step's log bytes as they are (nothing when output goes to /dev/null)."""
        if self.discarded:
            return
        self.stream.flush()
        buffer = getattr(self.stream, "buffer", None)
        if buffer is None:
            self.stream.write(data.decode("utf-8", "replace"))
        else:
            buffer.write(data)
            buffer.flush()

    def note(self, text: str) -> None:
        """A message from scd itself."""
        self._say(text, "yellow")

    def finish(self, status: str, seconds: float, log_dir: Path) -> None:
        """The final line: run status, duration, where the logs are."""
        symbol, style = _SYMBOLS.get(status, ("?", "bold"))
        self._say(f"{symbol} run {status} in {seconds:.2f}s (logs: {log_dir})", f"bold {style}")

    def _say(self, text: str, style: str) -> None:
        if self.rich is not None:
            self.rich.print(text, style=style, markup=False)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()


def _is_devnull(stream: IO[str]) -> bool:
    """True when ``stream`` is /dev/null: then the log is in the sink only (as tar does)."""
    import os
    import stat

    try:
        mine, null = os.fstat(stream.fileno()), os.stat(os.devnull)
    except (OSError, ValueError):  # no descriptor (a test's StringIO) or no /dev/null
        return False
    return stat.S_ISCHR(mine.st_mode) and mine.st_rdev == null.st_rdev


def _tee_sink(root: Path, console: _Console) -> Any:
    """A file sink that also shows every appended chunk on the console, live."""
    from scd_core.logs import strip_timestamps
    from scd_core.sinks.file import FileLogSink

    class TeeSink(FileLogSink):
        def append(self, run_id: str, step: str, data: bytes) -> None:
            super().append(run_id, step, data)
            if not console.discarded:
                console.log(strip_timestamps(data))

    return TeeSink(root)
