"""The ``scd`` command: each group of subcommands lives in ``functions.commands``.

Command modules import their heavy dependencies inside the command body, so
``scd --help`` and ``scd run`` start fast.
"""

from __future__ import annotations

import typer

from functions.commands import demo, run, serve, spec, token

__all__ = ["app", "main"]

app = typer.Typer(
    name="scd",
    help="scd: serverless CI/CD. Run pipelines locally, serve the trigger and worker.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (spec, run, token, serve, demo):
    _module.register(app)


@app.command()
def version() -> None:
    """Print scd's version."""
    from importlib.metadata import version as dist_version

    typer.echo(dist_version("scd"))


def main() -> None:
    """Console-script entry point."""
    app()
