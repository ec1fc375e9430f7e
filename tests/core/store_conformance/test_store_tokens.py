"""TokenRegistry: API tokens by digest; names never reused; revocation final."""

from __future__ import annotations

from datetime import timezone

import pytest
from factories import BASE
from scd_core.errors import Conflict, NotFound
from scd_core.store import RunStore, TokenRegistry

ROLE = "tokens"


def test_backends_satisfy_the_tokens_role(store: RunStore) -> None:
    assert isinstance(store, TokenRegistry)


def test_put_token_records_a_digest_found_by_its_digest(store: RunStore) -> None:
    record = store.put_token("ci", "ab" * 32, ["read", "trigger"], BASE)
    assert record.scopes == ("read", "trigger")
    found = store.find_token("ab" * 32)
    assert found == record
    assert found is not None
    assert found.created_at.tzinfo == timezone.utc
    assert not found.revoked
    assert store.find_token("cd" * 32) is None


def test_put_token_refuses_a_taken_name_or_digest(store: RunStore) -> None:
    store.put_token("ci", "ab" * 32, ["read"], BASE)
    with pytest.raises(Conflict):
        store.put_token("ci", "cd" * 32, ["read"], BASE)
    with pytest.raises(Conflict):
        store.put_token("other", "ab" * 32, ["read"], BASE)
    store.revoke_token("ci")
    with pytest.raises(Conflict):  # a revoked name is never reused
        store.put_token("ci", "ef" * 32, ["read"], BASE)


def test_revoke_token_marks_it_revoked_at_once_and_is_idempotent(store: RunStore) -> None:
    store.put_token("b", "ab" * 32, ["admin"], BASE)
    store.put_token("a", "cd" * 32, ["read"], BASE)
    store.revoke_token("b")
    store.revoke_token("b")
    found = store.find_token("ab" * 32)
    assert found is not None
    assert found.revoked
    assert [(t.name, t.revoked) for t in store.list_tokens()] == [("a", False), ("b", True)]
    with pytest.raises(NotFound):
        store.revoke_token("nobody")
