"""The ``scd`` command: each group of subcommands lives in ``functions.commands``.

Command modules import their heavy dependencies inside the command body, so
``scd --help`` starts fast. ``scd run`` starts faster still: :func:`main`
hands its plain arguments to :func:`functions.commands.run.run_fast`, which
neither imports typer nor builds the app (typer's parameter adapters cost more
than a hundred steps' overhead); anything it declines goes through typer.
``app`` is built on first access, so ``from functions.cli import app`` works.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

    app: typer.Typer

__all__ = ["app", "build_app", "main"]

_built: list[typer.Typer] = []


def build_app() -> typer.Typer:
    """The typer app with every subcommand (built once, then reused)."""
    if _built:
        return _built[0]
    import typer

    from functions.commands import (
        client,
        cloud,
        demo,
        fc,
        package,
        prune,
        run,
        serve,
        spec,
        token,
        worker,
    )

    built = typer.Typer(
        name="scd",
        help="scd: serverless CI/CD. Run pipelines locally, serve the trigger and worker.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for module in (spec, run, token, serve, worker, demo, client, fc, package, cloud, prune):
        module.register(built)
    built.command()(version)
    _built.append(built)
    return built


def version() -> None:
    """Print scd's version."""
    from importlib.metadata import version as dist_version

    import typer

    typer.echo(dist_version("scd"))


def __getattr__(name: str) -> Any:
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:2] == ["run"]:
        from functions.commands.run import run_fast

        code = run_fast(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    build_app()()
