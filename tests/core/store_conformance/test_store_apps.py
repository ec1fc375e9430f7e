"""AppRegistry: apps registered through the API, stored as JSON and given back equal."""

from __future__ import annotations

import pytest
from scd_core.errors import NotFound
from scd_core.store import AppRegistry, RunStore

ROLE = "apps"


def test_backends_satisfy_the_apps_role(store: RunStore) -> None:
    assert isinstance(store, AppRegistry)


def test_put_app_stores_a_spec_that_comes_back_equal_and_tells_new_from_replaced(
    store: RunStore,
) -> None:
    spec = {"repo": "https://x/y.git", "provider": "github", "trigger": {"push": {"tags": []}}}
    assert store.put_app("web", spec) is True
    spec["provider"] = "gitee"
    assert store.get_app("web") == {**spec, "provider": "github"}  # a copy was stored
    assert store.put_app("web", spec) is False
    assert store.get_app("web") == spec
    assert store.put_app("api", {"repo": "r"}) is True
    assert [name for name, _ in store.list_apps()] == ["api", "web"]
    assert store.get_app("nobody") is None


def test_delete_app_removes_it_once_then_is_not_found(store: RunStore) -> None:
    store.put_app("web", {"repo": "r"})
    store.delete_app("web")
    assert store.get_app("web") is None
    assert store.list_apps() == []
    with pytest.raises(NotFound):
        store.delete_app("web")
