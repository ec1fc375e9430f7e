"""``scd prune``: remove logs, workspaces, git mirrors and finished queue tasks unused that long.

Local disks and NAS mounts have no lifecycle rule; ``scd serve`` runs the same
prune once a day, and on FC a timer can call this command (see s.yaml). Logs are
pruned only when ``SCD_LOG_SINK`` is a directory (``file://``; unset means
``<data-dir>/logs``): OSS and SLS expire logs by their own rules.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["log_dir", "register"]


def log_dir(data_dir: Path, sink_url: str | None) -> Path | None:
    """The file sink's directory for ``sink_url`` (None: logs are not in a directory)."""
    if not sink_url:
        return data_dir / "logs"
    scheme, _, rest = sink_url.partition("://")
    if scheme != "file" or not rest.startswith("/"):
        return None
    return Path(rest[1:])


def prune_command(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age of what to remove: 30d, 12h, 90m, 3600s.")
    ] = "30d",
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir", envvar="SCD_DATA_DIR", help="Where state, logs and the queue live."
        ),
    ] = Path(".scd"),
) -> None:
    """Remove logs, workspaces, git mirrors and finished queue tasks unused for --older-than."""
    from scd_core.errors import ScdError

    from functions.serve.prune import parse_age, prune

    try:
        age = parse_age(older_than)
        report = prune(data_dir, age, log_dir=log_dir(data_dir, os.environ.get("SCD_LOG_SINK")))
    except ScdError as exc:
        typer.echo(f"scd prune: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"scd prune: {report.summary()}")
    for failure in report.failures:
        typer.echo(f"  could not remove {failure}", err=True)
    raise typer.Exit(1 if report.failures else 0)


def register(app: typer.Typer) -> None:
    app.command("prune")(prune_command)
