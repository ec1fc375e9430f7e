"""``scd demo``: see a real run against a running ``scd serve`` within a minute.

Creates (or adds a commit to) a local git repository with the demo pipeline
under ``<data-dir>/demo/repo``, posts the signed GitHub-style push webhook to the
server's ``demo`` app, then follows the run until it ends, printing the run id,
each step's status and its log. Exit status: 0 when the run succeeds, 1 when it
ends otherwise, 2 when the server cannot be reached (checked before anything is
committed) or refuses the webhook. The server is ``--server``, ``SCD_SERVER``, the
CLI config's, or ``http://127.0.0.1:9000``, as for every client command. The
secret is ``SCD_DEMO_SECRET`` or the embedded default; the read token is
``--token``, ``SCD_TOKEN`` or the embedded demo token. When the demo token was
used and the CLI config holds no token for the server, the demo saves it there
(and says so), so that ``scd runs`` and ``scd logs`` work right after.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

__all__ = ["register"]

_POLL_S = 0.3


def demo_command(
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="SCD_SERVER",
            help="Base URL of a running scd serve [default: the saved one, else "
            "http://127.0.0.1:9000].",
            show_default=False,
        ),
    ] = None,
    data_dir: Annotated[
        Path,
        typer.Option("--data-dir", envvar="SCD_DATA_DIR", help="The data dir of that scd serve."),
    ] = Path(".scd"),
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="SCD_TOKEN", help="API token with the read scope."),
    ] = None,
    app: Annotated[str, typer.Option("--app", help="The app to post the push to.")] = "demo",
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait for the run.")
    ] = 120.0,
) -> None:
    """Commit to a local demo repository, post the signed push webhook, follow the run."""
    import httpx
    from scd_core.errors import ScdError

    from functions.client import config
    from functions.serve.defaults import DEMO_TOKEN, demo_pipeline_text, demo_repo, demo_secret
    from functions.serve.demo import commit_demo, push_webhook

    try:
        base = config.resolve(server, None)[0]  # the token is decided below
    except ScdError as exc:
        _fail(str(exc))
    auth = {"authorization": f"Bearer {token or DEMO_TOKEN}"}
    with httpx.Client(base_url=base, timeout=30.0) as client:
        _check_reachable(client, base)  # before committing anything
        try:
            push = commit_demo(demo_repo(data_dir), demo_pipeline_text())
        except ScdError as exc:
            _fail(str(exc))
        typer.echo(f"committed {push.after[:12]} to {push.repo} (main)")
        body, headers = push_webhook(push, demo_secret())
        try:
            answer = client.post(f"/webhooks/{app}", content=body, headers=headers)
        except httpx.HTTPError as exc:
            _fail(f"no scd server answers at {base} ({type(exc).__name__}); start `scd serve`")
        if answer.status_code != 202:
            _fail(f"the server refused the webhook: HTTP {answer.status_code} {answer.text[:300]}")
        run_id = answer.json()["run_id"]
        typer.echo(f"run {run_id} queued: {base}/api/v1/runs/{run_id}")
        if token is None:
            _save_demo_token(base)
        status = _follow(client, run_id, auth, timeout)
    typer.echo(f"see it in the dashboard: {base}/ui/runs/{run_id}")
    raise typer.Exit(0 if status == "success" else 1)


def _check_reachable(client: Any, base: str) -> None:
    """Exit 2 unless an scd server answers ``GET /healthz`` at ``base``."""
    import httpx

    try:
        answer = client.get("/healthz", timeout=10.0)
    except httpx.HTTPError as exc:
        _fail(f"no scd server answers at {base} ({type(exc).__name__}); start `scd serve`")
    if answer.status_code != 200:
        _fail(f"{base} is not an scd server (GET /healthz: HTTP {answer.status_code})")


def _save_demo_token(base: str) -> None:
    """Keep the demo token for ``base`` in the CLI config unless one is saved already."""
    from scd_core.errors import ScdError

    from functions.client import config
    from functions.serve.defaults import DEMO_TOKEN

    try:
        if config.load().token_for(base) is not None:
            return
        path = config.save_token(base, DEMO_TOKEN)
    except ScdError as exc:
        typer.echo(f"scd demo: not saving the demo token: {exc}", err=True)
        return
    typer.echo(f"saved the demo token ({DEMO_TOKEN}) for {base} in {path}: scd runs works now")


def _follow(client: Any, run_id: str, auth: dict[str, str], timeout: float) -> str:
    """Poll the run until it is final, printing steps as they end; the final status."""
    import httpx

    from functions.serve.demo import RunFollower

    def fetch_log(step: str) -> str:
        answer = client.get(f"/api/v1/runs/{run_id}/steps/{step}/logs", headers=auth)
        return str(answer.text) if answer.status_code == 200 else f"(no log: {answer.status_code})"

    follower = RunFollower(fetch_log=fetch_log, say=typer.echo)
    started = time.monotonic()
    last_status = ""
    while time.monotonic() - started < timeout:
        try:
            answer = client.get(f"/api/v1/runs/{run_id}", headers=auth)
        except httpx.HTTPError as exc:
            _fail(f"lost the server while following the run ({type(exc).__name__})")
        if answer.status_code in (401, 403):
            _fail("the server refused the read token: pass --token (scope read) or set SCD_TOKEN")
        if answer.status_code != 200:
            _fail(f"reading the run failed: HTTP {answer.status_code} {answer.text[:300]}")
        run = answer.json()
        if run["status"] != last_status:
            last_status = run["status"]
            typer.echo(f"run {run_id}: {last_status}")
        if follower.update(run):
            seconds = time.monotonic() - started
            reason = f" ({run['message']})" if run.get("message") else ""
            typer.echo(f"run {run_id} ended {run['status']}{reason} after {seconds:.1f}s")
            return str(run["status"])
        time.sleep(_POLL_S)
    typer.echo(f"run {run_id} still {last_status} after {timeout:g}s; giving up", err=True)
    return last_status


def _fail(message: str) -> NoReturn:
    typer.echo(f"scd demo: {message}", err=True)
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command("demo")(demo_command)
