"""The API client commands: ``scd runs``, ``logs``, ``trigger``, ``cancel``, ``rerun``, ``apps``,
and ``scd login``/``logout``, which keep a token in the CLI's config file.

Each talks to a running scd server: ``--server``, else ``SCD_SERVER``, else the
config file's server, else ``http://127.0.0.1:9000``; with ``--token``, else
``SCD_TOKEN``, else the token saved for that server (``functions.client.config``;
a token is never printed).
Exit codes: 0 done (for ``-f``: the run or step ended ``success``); 1 the server
answered an error (one line on stderr: its detail and HTTP status) or the
followed run or step ended otherwise; 2 the server cannot be reached or the
command line is wrong; 130 interrupted. httpx and rich are imported inside the
commands only, so other ``scd`` commands never pay for them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from functions.client import ApiClient
    from functions.client.follow import Printer


__all__ = ["register"]

T = TypeVar("T")
_LOGIN_HINT = "; run `scd login`, pass --token or set SCD_TOKEN"

Server = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="SCD_SERVER",
        help="Base URL of the scd server [default: the saved one, else http://127.0.0.1:9000].",
        show_default=False,
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="SCD_TOKEN",
        help="API token (read, trigger or admin scope) [default: the one saved by scd login].",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
Follow = Annotated[bool, typer.Option("--follow", "-f", help="Follow the logs live.")]
_PIPED_WIDTH = 400


def runs_command(
    app: Annotated[str | None, typer.Option("--app", help="Only this app's runs.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only runs in this status.")
    ] = None,
    event: Annotated[
        str | None, typer.Option("--event", help="push, tag, pull_request, ...")
    ] = None,
    branch: Annotated[
        str | None, typer.Option("--branch", help="Only runs of this branch.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many.")] = 20,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Next page (from --json).")] = None,
    json_out: Json = False,
    server: Server = None,
    token: Token = None,
) -> None:
    """List runs, newest first."""
    with _client("runs", server, token) as client:
        page = client.list_runs(
            app=app, status=status, event=event, branch=branch, limit=limit, cursor=cursor
        )
    if json_out:
        _print_json(page)
        return
    from functions.client.render import runs_table
    from functions.client.terminal import terminal_safe_data

    _console(wide=True).print(runs_table(terminal_safe_data(list(page.get("runs", [])))))
    if page.get("next_cursor"):
        typer.echo(f"more: scd runs --cursor {page['next_cursor']}", err=True)


def logs_command(
    run: Annotated[str, typer.Argument(help="Run id, or its first characters.")],
    step: Annotated[
        str | None, typer.Argument(help="Step id, index from 0, or 'setup'; all steps if omitted.")
    ] = None,
    follow: Follow = False,
    timestamps: Annotated[
        bool, typer.Option("--timestamps", help="Show each line's timestamp.")
    ] = False,
    task: Annotated[
        str | None,
        typer.Option("--task", help="The task instance of STEP, e.g. 'build (18, linux)'."),
    ] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Print a run's logs; with -f follow them live and exit with the final status."""
    from functions.client.follow import follow_step, show_run_logs

    printer = _printer()
    with _client("logs", server, token) as client:
        run = client.resolve_run_id(run)
        if step is None:
            final = show_run_logs(client, run, printer, live=follow, timestamps=timestamps)
        elif follow:
            final = follow_step(client, run, step, printer, timestamps=timestamps, task=task)
        else:
            for text in client.iter_log(run, step, timestamps=timestamps, task=task):
                printer.write(text)
            return
    if follow:
        raise typer.Exit(0 if final == "success" else 1)


def trigger_command(
    app: Annotated[str, typer.Argument(help="App name.")],
    ref: Annotated[str, typer.Option("--ref", help="Branch, tag or full ref to run.")],
    commit: Annotated[str | None, typer.Option("--commit", help="Exact commit SHA.")] = None,
    inputs: Annotated[
        list[str] | None, typer.Option("--input", help="An input as key=value (repeatable).")
    ] = None,
    follow: Follow = False,
    server: Server = None,
    token: Token = None,
) -> None:
    """Start a manual run of APP; print its id (with -f, follow it)."""
    values = _parse_inputs(inputs or [])
    with _client("trigger", server, token) as client:
        answer = client.trigger(app, ref, commit=commit, inputs=values)
        run_id = str(answer["run_id"])
        typer.echo(run_id)
        if follow:
            _follow_run(client, run_id)


def cancel_command(
    run: Annotated[str, typer.Argument(help="Run id, or its first characters.")],
    server: Server = None,
    token: Token = None,
) -> None:
    """Cancel a run; print its status right after."""
    with _client("cancel", server, token) as client:
        answer = client.cancel(client.resolve_run_id(run))
    typer.echo(f"{answer.get('run_id', run)} {answer.get('status', '')}".rstrip())


def approve_command(
    run: Annotated[str, typer.Argument(help="Run id, or its first characters.")],
    server: Server = None,
    token: Token = None,
) -> None:
    """Approve a fork's run that waits for approval; print its status right after."""
    with _client("approve", server, token) as client:
        answer = client.approve(client.resolve_run_id(run))
    typer.echo(f"{answer.get('run_id', run)} {answer.get('status', '')}".rstrip())


def rerun_command(
    run: Annotated[str, typer.Argument(help="Run id (or its first characters) to run again.")],
    follow: Follow = False,
    server: Server = None,
    token: Token = None,
) -> None:
    """Start a new run of the same commit and event; print its id (with -f, follow it)."""
    with _client("rerun", server, token) as client:
        answer = client.rerun(client.resolve_run_id(run))
        run_id = str(answer["run_id"])
        typer.echo(run_id)
        if follow:
            _follow_run(client, run_id)


def apps_command(json_out: Json = False, server: Server = None, token: Token = None) -> None:
    """List apps: what triggers each, its webhook URL, next scheduled run and last run."""
    with _client("apps", server, token) as client:
        apps = client.list_apps()
    if json_out:
        _print_json({"apps": apps})
        return
    from functions.client.render import apps_table
    from functions.client.terminal import terminal_safe_data

    _console(wide=True).print(apps_table(terminal_safe_data(apps)))


def _follow_run(client: ApiClient, run_id: str) -> NoReturn:
    from functions.client.follow import show_run_logs

    final = show_run_logs(client, run_id, _printer(), live=True)
    raise typer.Exit(0 if final == "success" else 1)


def login_command(
    server: Server = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="SCD_TOKEN",
            help="The API token to save (asked for, hidden, when not given).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check a token against the server, then save both as the CLI's defaults."""
    from functions.client import config

    chosen = _config_call("login", lambda: config.resolve(server, None)[0])
    given = (token or typer.prompt(f"API token for {chosen}", hide_input=True)).strip()
    with _client("login", chosen, given) as client:
        client.list_runs(limit=1)  # 401/403 here: nothing is saved
    path = _config_call("login", lambda: config.save_token(chosen, given))
    typer.echo(f"logged in to {chosen}; token saved in {path}")


def logout_command(server: Server = None) -> None:
    """Forget the token saved for the server."""
    from functions.client import config

    chosen = _config_call("logout", lambda: config.resolve(server, None)[0])
    path = _config_call("logout", lambda: config.save_token(chosen, None))
    typer.echo(f"logged out of {chosen} ({path})")


def _config_call(command: str, call: Callable[[], T]) -> T:
    """``call()``, its ``ConfigError`` (an unreadable config file) as one line and exit 2."""
    from scd_core.errors import ConfigError

    try:
        return call()
    except ConfigError as exc:
        _fail(command, str(exc), 2)


@contextmanager
def _client(command: str, server: str | None, token: str | None) -> Iterator[ApiClient]:
    """An ApiClient (server and token resolved as the module says) whose errors become
    one line on stderr and an exit code."""
    from scd_core.errors import AuthError, Forbidden, ScdError

    from functions.client import ApiClient, Unreachable, config

    try:
        server, token = config.resolve(server, token)
        with ApiClient(server, token) as client:
            yield client
    except Unreachable as exc:
        _fail(command, f"{exc}; start `scd serve` or set --server / SCD_SERVER", 2)
    except AuthError as exc:
        hint = "" if isinstance(exc, Forbidden) else _LOGIN_HINT
        _fail(command, f"{exc}{hint}", 1)
    except ScdError as exc:
        _fail(command, str(exc), 1)
    except KeyboardInterrupt:
        _fail(command, "interrupted", 130)
    except BrokenPipeError:
        # The reader went away (`scd logs RUN | head`): stop quietly, and keep the
        # interpreter's final flush of stdout from failing again.
        import os

        with suppress(OSError, ValueError):  # ValueError: a stdout without a descriptor
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None


def _fail(command: str, message: str, code: int) -> NoReturn:
    typer.echo(f"scd {command}: {message}", err=True)
    raise typer.Exit(code)


def _parse_inputs(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--input")
        values[key] = value
    return values


def _console(*, wide: bool = False) -> Console:
    """A console on stdout; ``wide`` for tables piped somewhere (no wrapping at 80)."""
    import os

    from rich.console import Console

    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(highlight=False, width=_PIPED_WIDTH if wide and piped else None)


def _printer() -> Printer:
    from rich.text import Text

    from functions.client.follow import Printer
    from functions.client.terminal import terminal_safe

    console = _console()

    def write(text: str) -> None:
        sys.stdout.write(terminal_safe(text))
        sys.stdout.flush()

    def header(label: str) -> None:
        sys.stdout.flush()
        console.rule(Text(terminal_safe(label), style="bold"), align="left", style="dim")

    def note(text: str) -> None:
        sys.stdout.flush()
        typer.echo(terminal_safe(text), err=True)

    return Printer(write=write, header=header, note=note)


def _print_json(value: object) -> None:
    import json

    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add the client commands to ``app``."""
    app.command("runs")(runs_command)
    app.command("logs")(logs_command)
    app.command("trigger")(trigger_command)
    app.command("cancel")(cancel_command)
    app.command("approve")(approve_command)
    app.command("rerun")(rerun_command)
    app.command("apps")(apps_command)
    app.command("login")(login_command)
    app.command("logout")(logout_command)
