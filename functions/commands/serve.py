"""``scd serve``: the whole system on one machine, on embedded defaults out of the box.

Starts the trigger (``--host``/``--port``, default 127.0.0.1:9000), ``--workers``
worker processes, the local invoker (queue in ``<data-dir>/queue.db``), the
scheduler and the reaper; state and logs under ``--data-dir`` (``./.scd``). With
``--redis URL`` jobs go on a Redis Stream instead and the workers are ``scd worker
--redis URL`` processes (more may run on other machines sharing the store).
Without ``--config``, ``SCD_CONFIG`` or ``./scd.yaml`` it serves the embedded
demo app (try ``scd demo``). Ctrl-C stops accepting, lets running steps finish
within ``--grace`` seconds, then cancels them; queued jobs run after the next start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def serve_command(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="scd.yaml to serve (default: ./scd.yaml).")
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address the trigger listens on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", "-p", help="Port of the trigger.")] = 9000,
    data_dir: Annotated[
        Path,
        typer.Option(
            "--data-dir", envvar="SCD_DATA_DIR", help="Where state, logs and the queue live."
        ),
    ] = Path(".scd"),
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Worker processes.")] = 2,
    grace: Annotated[
        float, typer.Option("--grace", min=0, help="Seconds running steps get on Ctrl-C.")
    ] = 10.0,
    redis: Annotated[
        str | None,
        typer.Option(
            "--redis",
            help="redis://HOST:PORT/DB[?stream=NAME]: queue jobs on Redis for scd worker "
            "processes (these --workers, and any on other machines) instead of the local queue.",
        ),
    ] = None,
) -> None:
    """Serve webhooks and run pipelines on this machine (trigger, workers, queue, scheduler)."""
    import logging

    from scd_core.errors import ScdError

    from functions.serve import ServeOptions, serve

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    options = ServeOptions(
        config=config,
        host=host,
        port=port,
        data_dir=data_dir,
        workers=workers,
        grace_s=grace,
        redis=redis,
    )
    try:
        code = serve(options, echo=lambda text: typer.echo(text))
    except ScdError as exc:
        typer.echo(f"scd serve: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command("serve")(serve_command)
