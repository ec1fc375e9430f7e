"""Controls: cancel, pause and resume requests; cancel is final."""

from __future__ import annotations

import pytest
from factories import make_run
from scd_core.errors import BadRequest, NotFound
from scd_core.store import Controls, RunStore

ROLE = "controls"


def test_backends_satisfy_the_controls_role(store: RunStore) -> None:
    assert isinstance(store, Controls)


def test_control_requests_replace_each_other_until_cancel(store: RunStore) -> None:
    store.create_run(make_run(1))
    assert store.get_control("run-1") is None
    store.request_control("run-1", "pause")
    assert store.get_control("run-1") == "pause"
    store.request_control("run-1", "resume")
    assert store.get_control("run-1") == "resume"
    store.request_control("run-1", "cancel")
    store.request_control("run-1", "resume")
    assert store.get_control("run-1") == "cancel"


def test_request_control_checks_the_run_and_the_action(store: RunStore) -> None:
    store.create_run(make_run(1))
    with pytest.raises(NotFound):
        store.request_control("run-missing", "cancel")
    with pytest.raises(BadRequest):
        store.request_control("run-1", "explode")
    assert store.get_control("run-missing") is None
    assert store.get_control("run-1") is None
