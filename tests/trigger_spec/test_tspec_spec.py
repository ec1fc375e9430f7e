"""The App and trigger spec models: validation at load and serverless-cd's form."""

from __future__ import annotations

from typing import Any

import pytest
from factories import make_app
from pydantic import ValidationError
from scd_trigger_spec import App, PushFilter, TriggerSpec


def test_app_without_secret_is_an_error_naming_the_app() -> None:
    with pytest.raises(ValidationError, match="app 'web' has no webhook secret"):
        App.model_validate({"name": "web", "repo": "r"})


def test_app_may_opt_out_of_a_secret_explicitly() -> None:
    assert make_app(secret=None, insecure_no_secret=True).secret is None


def test_secret_is_hidden_in_repr_and_dumps() -> None:
    app = make_app(secret="hunter2-very-secret")
    assert "hunter2" not in repr(app)
    assert "hunter2" not in app.model_dump_json()


@pytest.mark.parametrize("name", ["Web", "-web", "web/x", "", "web app"])
def test_app_name_must_be_url_safe(name: str) -> None:
    with pytest.raises(ValidationError, match="must match"):
        make_app(name=name)


def test_default_trigger_runs_every_push_and_manual_but_no_pull_request() -> None:
    trigger = make_app().trigger
    assert trigger.push == PushFilter()
    assert trigger.pull_request is None
    assert trigger.manual is True


def test_null_push_key_means_every_push() -> None:
    trigger = TriggerSpec.model_validate({"push": None})
    assert trigger.push == PushFilter()


def test_filter_keys_use_github_spelling_and_accept_one_string() -> None:
    push = PushFilter.model_validate({"branches-ignore": "wip/**", "paths-ignore": ["docs/**"]})
    assert push.branches_ignore == ["wip/**"]
    assert push.paths_ignore == ["docs/**"]


@pytest.mark.parametrize(
    "push",
    [
        {"branches": ["main"], "branches-ignore": ["dev"]},
        {"tags": ["v*"], "tags-ignore": ["v0*"]},
        {"paths": ["src/**"], "paths-ignore": ["docs/**"]},
    ],
)
def test_filter_and_its_ignore_together_is_an_error(push: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="cannot both be set"):
        PushFilter.model_validate(push)


def test_invalid_pattern_is_a_config_error_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="branches: invalid pattern '\\[\\]'"):
        PushFilter.model_validate({"branches": ["[]"]})


def test_unknown_pull_request_type_is_an_error() -> None:
    with pytest.raises(ValidationError, match="unknown pull_request types"):
        TriggerSpec.model_validate({"pull_request": {"types": ["opend"]}})


def test_bad_cron_is_a_config_error_at_load() -> None:
    with pytest.raises(ValidationError, match="expected 6 fields"):
        TriggerSpec.model_validate({"schedule": [{"cron": "0 2 * * *"}]})


def test_schedule_entry_may_be_a_bare_cron_string() -> None:
    trigger = TriggerSpec.model_validate({"schedule": ["@every 5m"]})
    assert trigger.schedule[0].cron == "@every 5m"


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError):
        make_app(trigger={"psuh": {}})


def test_serverless_cd_push_form_is_converted_in_micromatch_order() -> None:
    app = make_app(
        secret=None,
        github={
            "secret": "from-block",
            "push": {
                "branches": {
                    "include": ["feat/*"],
                    "prefix": ["release"],
                    "precise": ["main"],
                    "exclude": ["wip"],
                },
                "tags": {"prefix": []},
            },
        },
    )
    assert app.provider == "github"
    assert app.secret is not None
    assert app.secret.get_secret_value() == "from-block"
    push = app.trigger.push
    assert push is not None
    assert push.dialect == "serverless-cd"
    assert push.branches == ["feat/*", "release*", "release/**", "main", "!wip"]
    assert push.tags == ["*", "**"]
    assert app.trigger.pull_request is None


def test_serverless_cd_pull_request_rules_keep_priority_order() -> None:
    app = make_app(
        gitee={
            "pull_request": {
                "types": ["merged"],
                "branches": {
                    "include": [{"target": "dev*"}],
                    "precise": [{"target": "main", "source": "dev"}],
                    "exclude": [{"target": "main", "source": "wip"}],
                },
            }
        }
    )
    pr = app.trigger.pull_request
    assert pr is not None
    assert pr.types == ["merged"]
    assert [r.kind for r in pr.rules or []] == ["exclude", "precise", "include"]
    assert app.trigger.push is None


def test_serverless_cd_form_and_trigger_together_is_an_error() -> None:
    with pytest.raises(ValidationError, match="either 'trigger' or 'github'"):
        make_app(github={"push": {}}, trigger={"push": {}})


def test_serverless_cd_form_contradicting_provider_is_an_error() -> None:
    with pytest.raises(ValidationError, match="contradicts"):
        make_app(provider="gitlab", github={"push": {}})


def test_gitee_password_becomes_the_secret() -> None:
    app = make_app(
        secret=None, gitee={"password": "pw", "push": {"branches": {"precise": ["main"]}}}
    )
    assert app.secret is not None
    assert app.secret.get_secret_value() == "pw"


def test_serverless_cd_rule_with_invalid_glob_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="invalid glob"):
        make_app(
            github={
                "pull_request": {
                    "types": ["opened"],
                    "branches": {"precise": [{"target": "[z-a]"}]},
                }
            }
        )
