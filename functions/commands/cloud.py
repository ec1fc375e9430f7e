"""``scd cloud init``: create what the configured cloud backends need before first use.

Each backend that keeps state in a cloud service gets one step in ``INIT_STEPS``: a
function of the settings and an ``echo`` that creates what is missing and says what
it did, idempotently (running ``scd cloud init`` twice, or from two machines at once,
is safe). A step for a backend that is not configured does nothing. The steps:

- ``store``: the Tablestore tables and indexes (``SCD_STORE=tablestore://...``;
  ``scd_core.stores.tablestore_schema`` describes them).
- ``log sink``: the OSS lifecycle rule expiring old log objects, or the SLS logstore's
  field index and retention (``SCD_LOG_SINK=oss://...`` or ``sls://...``).

Errors are reported as one line naming the step and the cause (exit code 1); a bad
setting is a ``ConfigError`` naming the variable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer
from scd_core.errors import ScdError
from scd_core.settings import Settings

__all__ = ["INIT_STEPS", "LOG_RETENTION_DAYS", "init_log_sink", "init_store", "register"]

Echo = Callable[[str], None]
LOG_RETENTION_DAYS = 30  # as scd prune's default for files

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


def init_log_sink(
    settings: Settings, echo: Echo, *, sink: Any = None, days: int = LOG_RETENTION_DAYS
) -> None:
    """Give the log sink its retention when ``SCD_LOG_SINK`` is ``oss://`` (a lifecycle
    rule expiring the prefix's objects) or ``sls://`` (the logstore's field index and
    retention); ``sink`` replaces the one opened from the URL (a double in tests)."""
    scheme = settings.log_sink.partition("://")[0]
    if scheme not in ("oss", "sls"):
        echo(f"log sink: {scheme} needs no set-up (scd prune keeps files in check)")
        return
    if sink is None:
        from scd_core.sinks import open_sink

        sink = open_sink(settings.log_sink)
    if scheme == "oss":
        from scd_core.sinks.osslifecycle import ensure_lifecycle

        ensure_lifecycle(sink.client, sink.bucket, sink.prefix, days)
        echo(f"log sink: oss://{sink.bucket}/{sink.prefix} objects expire after {days} days")
    else:
        from scd_core.sinks.sls import ensure_index

        ensure_index(sink.client, sink.project, sink.logstore, days)
        echo(f"log sink: sls://{sink.project}/{sink.logstore} indexed, kept {days} days")


INIT_STEPS: list[tuple[str, Callable[[Settings, Echo], None]]] = [
    ("store", init_store),
    ("log sink", init_log_sink),
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
