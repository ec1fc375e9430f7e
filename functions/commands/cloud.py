"""``scd cloud init``: create what the configured cloud backends need before first use.

Each backend that keeps state in a cloud service gets one step in ``INIT_STEPS``: a
function of the settings and an ``echo`` that creates what is missing and says what
it did, idempotently (running ``scd cloud init`` twice, or from two machines at once,
is safe). A step for a backend that is not configured does nothing. The steps:

- ``store``: the Tablestore tables and indexes (``SCD_STORE=tablestore://...``;
  ``scd_core.stores.tablestore_schema`` describes them).
- ``log sink``: the place for the log sinks' set-up (the SLS logstore index, the OSS
  lifecycle rule): a sink backend adds its function to ``INIT_STEPS`` here.

Errors are reported as one line naming the step and the cause (exit code 1); a bad
setting is a ``ConfigError`` naming the variable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from scd_core.errors import ScdError
from scd_core.settings import Settings

__all__ = ["INIT_STEPS", "init_store", "register"]

Echo = Callable[[str], None]

cloud_app = typer.Typer(
    name="cloud",
    help="Prepare cloud backends (Tablestore tables, log sink set-up).",
    no_args_is_help=True,
)


def init_store(settings: Settings, echo: Echo, *, client: Any = None) -> None:
    """Create the Tablestore tables and indexes when ``SCD_STORE`` is ``tablestore://``;
    ``client`` replaces the one built from the URL (a double in tests)."""
    if not settings.store.startswith("tablestore://"):
        echo(f"store: {settings.store.partition('://')[0]} needs no set-up")
        return
    from scd_core.stores.tablestore_client import open_client, parse_url
    from scd_core.stores.tablestore_schema import create_tables

    if client is None:
        client, prefix = open_client(settings.store)
    else:
        prefix = parse_url(settings.store)[2]
    created = create_tables(client, prefix, echo=echo)
    if not created:
        echo("store: every Tablestore table exists")
    else:
        echo("store: new tables are usable about a minute after creation")


INIT_STEPS: list[tuple[str, Callable[[Settings, Echo], None]]] = [
    ("store", init_store),
    # log sinks: append ("log sink", init_log_sink) here (SLS index, OSS lifecycle)
]


@cloud_app.command("init")
def init_command() -> None:
    """Create the tables, indexes and rules the configured backends need; safe to repeat."""
    try:
        settings = Settings.from_env()
        for name, step in INIT_STEPS:
            try:
                step(settings, typer.echo)
            except ScdError as exc:
                typer.echo(f"scd cloud init: {name}: {exc}", err=True)
                raise typer.Exit(1) from None
    except ScdError as exc:
        typer.echo(f"scd cloud init: {exc}", err=True)
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    """Add the ``cloud`` group to ``app``."""
    app.add_typer(cloud_app, name="cloud")
