"""``scd token``: make and hash API tokens for the ``tokens`` of scd.yaml.

``scd token hash`` reads a token on stdin (one trailing newline is dropped)
and prints its SHA-256 hex digest, the value scd.yaml stores. ``scd token new``
prints a fresh random token and, on a second line, its digest.
"""

from __future__ import annotations

import sys

import typer

__all__ = ["register"]

token_app = typer.Typer(
    name="token",
    help="Make API tokens and the digests scd.yaml stores for them.",
    no_args_is_help=True,
)


@token_app.command("hash")
def hash_command() -> None:
    """Read a token on stdin; print the SHA-256 digest to put in scd.yaml."""
    from functions.trigger.auth import hash_token

    raw = sys.stdin.read()
    if raw.endswith("\n"):
        raw = raw[:-1]
        if raw.endswith("\r"):
            raw = raw[:-1]
    if not raw:
        typer.echo("scd token hash: no token on stdin", err=True)
        raise typer.Exit(2)
    typer.echo(hash_token(raw))


@token_app.command("new")
def new_command() -> None:
    """Print a fresh random token, then its SHA-256 digest on the next line."""
    from functions.trigger.auth import hash_token, new_token

    token = new_token()
    typer.echo(token)
    typer.echo(hash_token(token))


def register(app: typer.Typer) -> None:
    """Add the ``token`` group to ``app``."""
    app.add_typer(token_app, name="token")
