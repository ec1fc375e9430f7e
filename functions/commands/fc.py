"""``scd fc timers``: the FC timer triggers the apps' schedules need.

Prints, as s.yaml ``triggers:`` entries, a timer for each schedule in scd.yaml
finer than a minute (``functions.fc.timers``); every other schedule is fired by
the minute tick s.yaml already declares, and the command says so on stderr.
``--all`` prints a timer for every schedule. ``--write`` puts the entries into
s.yaml between its ``# BEGIN/END scd fc timers`` lines instead of printing them.
Exit codes: 0 done, 2 scd.yaml or s.yaml cannot be read or is invalid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register", "timers"]


def timers(
    config: Annotated[
        Path, typer.Option("--config", "-c", envvar="SCD_CONFIG", help="The apps' scd.yaml.")
    ] = Path("scd.yaml"),
    s_yaml: Annotated[
        Path, typer.Option("--s-yaml", help="The Serverless Devs file --write updates.")
    ] = Path("s.yaml"),
    write: Annotated[
        bool, typer.Option("--write", help="Write the entries into s.yaml instead of printing.")
    ] = False,
    every: Annotated[
        bool, typer.Option("--all", help="A timer for every schedule, not only sub-minute ones.")
    ] = False,
) -> None:
    """Print (or write into s.yaml) the timer triggers for the schedules in scd.yaml."""
    import os

    from scd_core.errors import ScdError

    from functions.appconfig import load_config
    from functions.fc.timers import render_entries, timer_entries, write_timers
    from functions.worker.secrets import LenientEnviron

    try:
        # the timers need no secret: a ${env:NAME} unset here must not fail the file
        apps = load_config(config, LenientEnviron(os.environ)).apps.values()
        entries = timer_entries(apps)
        chosen = [e for e in entries if every or e.own_timer]
        for entry in entries:
            if entry not in chosen:
                typer.echo(
                    f"{entry.name} ({entry.cron}): fired by the minute tick (scd-tick), "
                    "no timer of its own",
                    err=True,
                )
        if write:
            text = s_yaml.read_text(encoding="utf-8")
            s_yaml.write_text(write_timers(text, chosen), encoding="utf-8")
            typer.echo(f"{s_yaml}: {len(chosen)} timer trigger(s) written", err=True)
        else:
            typer.echo(render_entries(chosen), nl=False)
    except ScdError as exc:
        typer.echo(f"scd fc timers: {exc}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        typer.echo(f"scd fc timers: {s_yaml}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    """Add the ``fc`` group (``scd fc timers``) to ``app``."""
    group = typer.Typer(
        name="fc", help="Function Compute deployment helpers.", no_args_is_help=True
    )
    group.command("timers")(timers)
    app.add_typer(group, name="fc")
