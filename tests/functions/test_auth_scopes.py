"""Scopes are ordered read < trigger < admin: each carries those below it."""

from __future__ import annotations

import pytest
from scd_core.errors import Forbidden

from functions.trigger.auth import Tokens, TokenSpec, hash_token


def _spec(*scopes: str) -> TokenSpec:
    return TokenSpec.model_validate(
        {"name": "t", "sha256": hash_token("v"), "scopes": list(scopes)}
    )


def test_a_trigger_token_also_carries_read_but_not_admin() -> None:
    spec = _spec("trigger")
    assert spec.allows("read")
    assert spec.allows("trigger")
    assert not spec.allows("admin")


def test_an_admin_token_carries_every_scope() -> None:
    spec = _spec("admin")
    assert all(spec.allows(scope) for scope in ("read", "trigger", "admin"))


def test_a_read_token_carries_read_only() -> None:
    spec = _spec("read")
    assert spec.allows("read")
    assert not spec.allows("trigger")
    assert not spec.allows("admin")


def test_require_lets_a_trigger_token_read_and_refuses_it_admin() -> None:
    tokens = Tokens([_spec("trigger")])
    assert tokens.require("Bearer v", "read").name == "t"
    with pytest.raises(Forbidden, match="'admin'"):
        tokens.require("Bearer v", "admin")
