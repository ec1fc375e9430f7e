"""A lone surrogate anywhere in an app is a validation error naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from scd_trigger_spec import App
from scd_trigger_spec.spec import lone_surrogate

BASE: dict[str, Any] = {"name": "web", "repo": "https://github.com/acme/web.git", "secret": "x"}


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"name": "we\ud800b"}, "name"),
        ({"trigger": {"schedule": ["x\ud800"]}}, "trigger.schedule[0]"),
        ({"trigger": {"push": {"branches": ["main", "[\udfff"]}}}, "trigger.push.branches[1]"),
        ({"trigger": {"push": {"paths": ["src/\ud800"]}}}, "trigger.push.paths[0]"),
        ({"secret": "s\ud800"}, "secret"),
        ({"secrets": {"K\ud800": "v"}}, "secrets.K\\ud800"),
    ],
)
def test_a_lone_surrogate_is_a_validation_error_naming_the_field(
    fields: dict[str, Any], where: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        App.model_validate({**BASE, **fields})
    [error] = caught.value.errors(include_input=False)
    assert (
        error["msg"] == f"Value error, {where}: strings must be valid Unicode (no lone surrogates)"
    )


def test_astral_characters_written_properly_are_accepted() -> None:
    app = App.model_validate({**BASE, "trigger": {"push": {"branches": ["feat/\U0001f600"]}}})
    assert app.trigger.push is not None
    assert app.trigger.push.branches == ["feat/\U0001f600"]


def test_lone_surrogate_finds_nothing_in_valid_unicode() -> None:
    assert lone_surrogate({"a": ["b", {"c": "\U0001f600é"}], "n": 3}) is None
