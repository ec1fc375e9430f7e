"""``scd worker``'s command line: bad settings are refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from functions.cli import app


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--redis", "http://127.0.0.1:6379"], "expected redis://HOST:PORT/DB"),
        (["--redis", "redis://127.0.0.1:6379/0?queue=x"], "only option is stream"),
        (["--redis", "redis://127.0.0.1:6379/0", "--lease", "10"], "must be longer than"),
    ],
)
def test_scd_worker_refuses_bad_settings_saying_what_is_wrong(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SCD_LEASE_TTL_SECONDS", "30")
    result = CliRunner().invoke(app, ["worker", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_scd_worker_is_listed_in_the_help() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "worker" in result.output
