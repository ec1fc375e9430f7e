"""scd.yaml loading: ${env:} substitution, validation with file:line, tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from scd_core.errors import ConfigError

from functions.appconfig import load_config, parse_config
from functions.trigger.auth import hash_token

SECRET = "s3cr3t-value-never-shown"
DIGEST = hash_token("tok")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scd.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_env_references_are_replaced_in_string_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "apps:\n"
        "  - name: web\n"
        "    repo: https://${env:GIT_HOST}/acme/web.git\n"
        "    secret: ${env:WEB_SECRET}\n",
    )
    config = load_config(path, {"GIT_HOST": "github.com", "WEB_SECRET": SECRET})
    app = config.apps["web"]
    assert app.repo == "https://github.com/acme/web.git"
    assert app.secret is not None
    assert app.secret.get_secret_value() == SECRET
    assert config.source == str(path)


def test_missing_env_variable_names_it_with_file_and_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "apps:\n"
        "  - name: web\n"
        "    repo: https://github.com/acme/web.git\n"
        "    secret: ${env:WEB_SECRET}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, {"OTHER": SECRET})
    message = str(caught.value)
    assert f"{path}:4:13: apps[0].secret: environment variable WEB_SECRET is not set" in message
    assert SECRET not in message


def test_app_without_secret_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "tokens: []\napps:\n  - name: open\n    repo: https://github.com/acme/open.git\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    message = str(caught.value)
    assert message.startswith(f"{path}:3:")
    assert "has no webhook secret" in message


def test_insecure_no_secret_opt_out_loads(tmp_path: Path) -> None:
    config = parse_config(
        "apps:\n  - {name: open, repo: 'https://x/y.git', insecure_no_secret: true}\n", "s.yaml", {}
    )
    assert config.apps["open"].secret is None


def test_field_errors_name_the_field_and_its_line_without_echoing_values() -> None:
    text = (
        "apps:\n"
        "  - name: web\n"
        "    repo: https://github.com/acme/web.git\n"
        "    secret: ${env:S}\n"
        "    provider: bitbucket\n"
        "    trigger:\n"
        "      manual: maybe\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "conf/scd.yaml", {"S": SECRET})
    lines = str(caught.value).splitlines()
    assert any(line.startswith("conf/scd.yaml:5:15: apps[0].provider: ") for line in lines)
    assert any(line.startswith("conf/scd.yaml:7:15: apps[0].trigger.manual: ") for line in lines)
    assert SECRET not in str(caught.value)
    assert "bitbucket" not in str(caught.value)


def test_duplicate_app_names_are_an_error_at_the_second_one() -> None:
    text = (
        "apps:\n"
        "  - {name: web, repo: 'https://a/b.git', insecure_no_secret: true}\n"
        "  - name: web\n"
        "    repo: https://a/c.git\n"
        "    insecure_no_secret: true\n"
    )
    with pytest.raises(
        ConfigError, match=r"scd.yaml:3:11: apps\[1\].name: duplicate app name 'web'"
    ):
        parse_config(text, "scd.yaml", {})


def test_tokens_are_loaded_with_scopes_and_checked() -> None:
    text = (
        f"tokens:\n  - {{name: ci, sha256: {DIGEST.upper()}, scopes: [trigger]}}\n"
        f"  - {{name: ops, sha256: {hash_token('other')}, scopes: [admin]}}\n"
    )
    config = parse_config(text, "scd.yaml", {})
    assert len(config.tokens) == 2
    assert config.tokens.require("Bearer tok", "trigger").name == "ci"
    assert config.tokens.require("Bearer other", "trigger").name == "ops"


def test_bad_token_entries_are_reported_each_with_their_line() -> None:
    text = (
        "tokens:\n"
        "  - {name: ci, sha256: not-hex, scopes: [trigger]}\n"
        f"  - {{name: ops, sha256: {DIGEST}, scopes: [root]}}\n"
        f"  - {{name: ops, sha256: {DIGEST}}}\n"
        f"  - {{name: again, sha256: {DIGEST}}}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "scd.yaml", {})
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("scd.yaml:2:24: tokens[0].sha256: ")
    assert lines[1].startswith("scd.yaml:3:")
    assert "tokens[1].scopes[0]" in lines[1]
    assert lines[2] == "scd.yaml:5:27: tokens[3].sha256: the same token digest is listed twice"
    assert len(lines) == 3  # the third entry is valid: its name is not yet taken


def test_unknown_top_level_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"scd.yaml:1:1: app: unknown key 'app'"):
        parse_config("app: []\n", "scd.yaml", {})


def test_duplicate_mapping_keys_are_an_error() -> None:
    with pytest.raises(ConfigError, match=r"scd.yaml:2:1: apps: duplicate key 'apps'"):
        parse_config("apps: []\napps: []\n", "scd.yaml", {})


def test_yaml_syntax_error_names_file_and_line() -> None:
    with pytest.raises(ConfigError, match=r"^scd.yaml:3:1: expected the node content"):
        parse_config("apps:\n  - {name: [\n", "scd.yaml", {})


def test_non_mapping_document_and_non_list_apps_are_errors() -> None:
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        parse_config("- a\n", "scd.yaml", {})
    with pytest.raises(ConfigError, match="apps must be a list"):
        parse_config("apps: {}\n", "scd.yaml", {})


def test_empty_file_means_no_apps_and_no_tokens() -> None:
    config = parse_config("", "scd.yaml", {})
    assert config.apps == {}
    assert len(config.tokens) == 0


def test_missing_config_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SCD_CONFIG"):
        load_config(tmp_path / "absent.yaml", {})


def test_example_config_loads_with_its_secret_set() -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "scd.yaml"
    config = load_config(example, {"SCD_DEMO_SECRET": SECRET})
    assert config.apps
    assert any(app.secret is not None for app in config.apps.values())
