"""``scd validate`` and ``scd schema``: check a pipeline spec, print its JSON Schema.

Exit codes of ``scd validate``: 0 when the spec has no errors (warnings alone
are fine), 1 when it has at least one, 2 when the file cannot be read.
Problems print as ``file:line:column: severity: message``; colours only on a
terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from scd_core.errors import Problem

__all__ = ["register", "schema", "validate"]

_DEFAULT = "serverless-pipeline.yaml"


def validate(
    file: Path = typer.Argument(  # noqa: B008 - typer declares arguments this way
        Path(_DEFAULT), help="The pipeline spec to check.", show_default=True
    ),
) -> None:
    """Check a pipeline spec and print every problem as file:line:column."""
    from scd_core.errors import ScdError
    from scd_engine.spec import lint_pipeline

    try:
        problems = lint_pipeline(file)
    except ScdError as exc:
        typer.echo(f"scd validate: {exc}", err=True)
        raise typer.Exit(2) from exc
    _print(problems)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if errors:
        typer.echo(f"{file}: {errors} error(s), {warnings} warning(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{file}: valid" + (f" ({warnings} warning(s))" if warnings else ""), err=True)


def _print(problems: list[Problem]) -> None:
    if not sys.stdout.isatty():
        for problem in problems:
            typer.echo(str(problem))
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False)
    for problem in problems:
        text = escape(str(problem))
        colour = "red" if problem.severity == "error" else "yellow"
        console.print(f"[{colour}]{text}[/{colour}]")


def schema() -> None:
    """Print the pipeline spec's JSON Schema (for editors such as yaml-language-server)."""
    import json

    from scd_engine.spec import pipeline_json_schema

    typer.echo(json.dumps(pipeline_json_schema(), indent=2))


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``schema`` to ``app``."""
    app.command("validate")(validate)
    app.command("schema")(schema)
