"""load_app and stored_app: the typed App the worker runs with, from scd.yaml or the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scd_core.errors import ConfigError
from scd_core.stores import open_store

from functions.appconfig import load_app, stored_app
from functions.worker.secrets import (
    UNSET_MARK,
    LenientEnviron,
    checkout_token,
    platform_env,
    resolve_secrets,
    unresolved_secrets,
)

SCD_YAML = """\
apps:
  - name: web
    repo: https://github.com/acme/web.git
    secret: ${env:WEB_SECRET}
    secrets: {NPM_TOKEN: "${env:NPM}", DEPLOY_KEY: "${env:DEPLOY}"}
    checkout_token: ${env:GIT_TOKEN}
    allow_platform_env: true
"""


class Apps:
    """A stand-in for the store's app role: the specs it was given, and the reads."""

    def __init__(self, specs: dict[str, dict[str, Any]]) -> None:
        self.specs = specs
        self.reads: list[str] = []

    def get_app(self, name: str) -> dict[str, Any] | None:
        self.reads.append(name)
        return self.specs.get(name)


def test_scd_yaml_is_read_first_and_the_store_is_not_asked(tmp_path: Path) -> None:
    path = tmp_path / "scd.yaml"
    path.write_text(SCD_YAML, encoding="utf-8")
    apps = Apps({"web": {"repo": "https://elsewhere.example/web.git", "insecure_no_secret": True}})
    app = load_app(
        "web", path, apps, {"WEB_SECRET": "s", "NPM": "n", "DEPLOY": "", "GIT_TOKEN": "t"}
    )
    assert app is not None
    assert app.repo == "https://github.com/acme/web.git"
    assert apps.reads == []


def test_an_app_scd_yaml_lacks_comes_from_the_sqlite_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    try:
        store.put_app("api", {"repo": "https://gitee.com/acme/api.git", "insecure_no_secret": True})
        app = load_app("api", tmp_path / "absent.yaml", store)
        assert app is not None
        assert (app.name, app.repo) == ("api", "https://gitee.com/acme/api.git")
        assert load_app("nobody", tmp_path / "absent.yaml", store) is None
    finally:
        store.close()


def test_an_invalid_scd_yaml_is_a_config_error_even_for_a_stored_app(tmp_path: Path) -> None:
    path = tmp_path / "scd.yaml"
    path.write_text("apps: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="apps must be a list"):
        load_app("api", path, Apps({"api": {"repo": "r", "insecure_no_secret": True}}))


def test_a_stored_spec_that_no_longer_validates_names_fields_not_values() -> None:
    with pytest.raises(ConfigError) as caught:
        stored_app("web", {"repo": "r", "secret": "hunter2-secret", "colour": "mauve-value"})
    message = str(caught.value)
    assert "'web' no longer validates" in message
    assert "colour" in message
    assert "mauve-value" not in message
    assert "hunter2-secret" not in message


def test_the_worker_resolves_a_typed_apps_secrets_token_and_platform_env(tmp_path: Path) -> None:
    path = tmp_path / "scd.yaml"
    path.write_text(SCD_YAML, encoding="utf-8")
    worker_env = {"NPM": "npm-value", "GIT_TOKEN": "tok", "SCD_SECRET_OTHER": "o", "FC_REGION": "x"}
    app = load_app("web", path, Apps({}), LenientEnviron(worker_env))
    assert app is not None
    assert app.secret is not None
    assert UNSET_MARK in app.secret.get_secret_value()  # the trigger's secret, unset here
    assert unresolved_secrets(app) == ["DEPLOY_KEY"]
    assert resolve_secrets(app, worker_env) == {"OTHER": "o", "NPM_TOKEN": "npm-value"}
    assert checkout_token(app, worker_env) == "tok"
    assert platform_env(app, worker_env) == {"FC_REGION": "x"}


def test_without_an_app_only_the_environment_counts() -> None:
    environ = {"SCD_SECRET_A": "1", "SCD_CHECKOUT_TOKEN": "env-token", "FC_REGION": "x"}
    assert unresolved_secrets(None) == []
    assert resolve_secrets(None, environ) == {"A": "1"}
    assert checkout_token(None, environ) == "env-token"
    assert platform_env(None, environ) == {}
