"""Leases: exclusive, renewable, expiring leases, and markers claimed once."""

from __future__ import annotations

import time

import pytest
from racing import race
from scd_core.errors import BackendError
from scd_core.store import Leases, RunStore

ROLE = "leases"


def test_backends_satisfy_the_leases_role(store: RunStore) -> None:
    assert isinstance(store, Leases)


def test_a_lease_is_exclusive_renewable_and_released_by_its_owner(store: RunStore) -> None:
    assert store.acquire_lease("run:1", "w1", 30)
    assert not store.acquire_lease("run:1", "w2", 30)
    assert store.acquire_lease("run:1", "w1", 30)
    assert store.renew_lease("run:1", "w1", 30)
    assert not store.renew_lease("run:1", "w2", 30)
    store.release_lease("run:1", "w2")
    assert not store.acquire_lease("run:1", "w2", 30)
    store.release_lease("run:1", "w1")
    assert store.acquire_lease("run:1", "w2", 30)
    assert not store.renew_lease("run:1", "w1", 30)


def test_an_expired_lease_can_be_taken_and_no_longer_renewed(store: RunStore) -> None:
    assert store.acquire_lease("run:1", "w1", 0.05)
    time.sleep(0.2)
    assert not store.renew_lease("run:1", "w1", 30)
    assert store.acquire_lease("run:1", "w2", 30)
    assert not store.renew_lease("run:1", "w1", 30)
    assert store.renew_lease("run:1", "w2", 30)


def test_renewing_an_unknown_lease_fails_and_leases_are_independent(store: RunStore) -> None:
    assert not store.renew_lease("nothing", "w1", 30)
    assert store.acquire_lease("a", "w1", 30)
    assert store.acquire_lease("b", "w2", 30)


def test_claim_once_is_true_for_the_first_caller_only(store: RunStore) -> None:
    assert store.claim_once("schedule:web:2026-01-01T00:00:00Z")
    assert not store.claim_once("schedule:web:2026-01-01T00:00:00Z")
    assert store.claim_once("schedule:web:2026-01-01T00:01:00Z")


def test_threads_racing_claims_and_leases_have_one_winner_each(store: RunStore) -> None:
    assert race(16, lambda i: store.claim_once("tick")).count(True) == 1
    assert race(16, lambda i: store.acquire_lease("lease", f"w{i}", 30)).count(True) == 1


def test_a_closed_store_refuses_claims(store: RunStore) -> None:
    store.close()
    store.close()
    with pytest.raises(BackendError):
        store.claim_once("x")
