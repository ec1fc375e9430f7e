"""The ``scd`` command starts and lists its commands."""

from __future__ import annotations

from typer.testing import CliRunner

from functions.cli import app


def test_scd_help_lists_commands_and_exits_zero() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "scd" in result.output
