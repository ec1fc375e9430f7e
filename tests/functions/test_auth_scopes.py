"""Scopes are ordered read < trigger < admin: each carries those below it."""

from __future__ import annotations

import pytest
from scd_core.errors import Forbidden
from scd_core.models import utcnow
from scd_core.stores.memory import MemoryRunStore

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


def test_live_finds_config_and_unrevoked_store_tokens_by_digest_only() -> None:
    store = MemoryRunStore()
    store.put_token("robot", hash_token("w"), ["trigger"], utcnow())
    tokens = Tokens([_spec("read")])
    tokens.attach(store)
    assert tokens.live(hash_token("v").upper()) == _spec("read")
    found = tokens.live(hash_token("w"))
    assert found is not None
    assert (found.name, found.scopes) == ("robot", ("trigger",))
    store.revoke_token("robot")
    assert tokens.live(hash_token("w")) is None
    assert tokens.live("not-a-digest") is None
