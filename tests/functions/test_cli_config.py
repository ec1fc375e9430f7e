"""The CLI config file and ``scd login``/``logout``: what a command uses, in which order."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import serve_trigger
from scd_core.errors import ConfigError
from test_client_cli import CONFIG, READ, Server
from typer.testing import CliRunner, Result

from functions.cli import app
from functions.client import config

OTHER = "http://127.0.0.1:1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_trigger(tmp_path_factory.mktemp("cli-config"), CONFIG, Server) as served:
        yield served


@pytest.fixture(autouse=True)
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "scd" / "config.json"


def scd(*args: str, stdin: str | None = None, **env: str | None) -> Result:
    """``scd ARGS`` with no server or token in the environment unless given."""
    base: dict[str, str | None] = {"SCD_SERVER": None, "SCD_TOKEN": None, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), input=stdin, env={**base, **env})


def test_the_file_lives_under_xdg_config_home_or_dot_config(tmp_path: Path) -> None:
    assert config.config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/scd/config.json")
    assert config.config_path({"XDG_CONFIG_HOME": "relative"}).parts[-3:] == (
        ".config",
        "scd",
        "config.json",
    )


def test_flag_or_environment_beat_the_file_which_beats_the_default(private_config: Path) -> None:
    assert config.resolve(None, None) == (config.DEFAULT_SERVER, None)
    config.save_token("http://saved:9000/", "saved-token")
    assert config.resolve(None, None) == ("http://saved:9000", "saved-token")
    assert config.resolve(None, "given") == ("http://saved:9000", "given")
    # a token is only sent to the server it was saved for
    assert config.resolve(OTHER, None) == (OTHER, None)
    assert stat.S_IMODE(private_config.stat().st_mode) == 0o600
    assert stat.S_IMODE(private_config.parent.stat().st_mode) == 0o700


def test_a_malformed_file_is_a_config_error_that_never_quotes_it(private_config: Path) -> None:
    private_config.parent.mkdir(parents=True)
    private_config.write_text('{"server": 3, "tokens": {"x": "secret-in-file"}}')
    with pytest.raises(ConfigError, match="not an scd CLI config") as caught:
        config.load()
    assert "secret-in-file" not in str(caught.value)
    private_config.write_text("not json secret-in-file")
    result = scd("runs", "--server", OTHER)
    assert result.exit_code == 1
    assert "cannot read the scd CLI config" in result.output
    assert "secret-in-file" not in result.output


def test_login_checks_the_token_saves_it_and_later_commands_use_it(
    server: Server, private_config: Path
) -> None:
    before = scd("runs", SCD_SERVER=server.url)
    assert before.exit_code == 1
    assert "run `scd login`" in before.output
    login = scd("login", "--server", server.url, stdin=f"{READ}\n")
    assert login.exit_code == 0, login.output
    assert READ not in login.output  # asked hidden, never echoed
    assert json.loads(private_config.read_text()) == {
        "server": server.url,
        "tokens": {server.url: READ},
    }
    after = scd("runs")  # neither server nor token given: both from the file
    assert after.exit_code == 0, after.output
    assert "ID" in after.output
    logout = scd("logout")
    assert logout.exit_code == 0
    assert scd("runs").exit_code == 1


def test_login_with_a_wrong_token_saves_nothing(server: Server, private_config: Path) -> None:
    result = scd("login", "--server", server.url, "--token", "not-a-token")
    assert result.exit_code == 1
    assert "not-a-token" not in result.output
    assert not private_config.exists()


def test_scd_server_beats_the_saved_server(server: Server) -> None:
    config.save_token(OTHER, "other-token")
    result = scd("runs", SCD_SERVER=server.url, SCD_TOKEN=READ)
    assert result.exit_code == 0, result.output
    unreachable = scd("runs")  # the saved server: nothing listens there
    assert unreachable.exit_code == 2
    assert OTHER in unreachable.output
