"""The run API's own status changes go through the lifecycle: a rerun is announced
queued, a cancel of a queued run finished, both after the store write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import WEB_APP, config_yaml
from scd_core.invokers.memory import MemoryInvoker
from scd_core.lifecycle import CANCELLED_QUEUED, Change, Lifecycle
from scd_core.models import Event, Run
from scd_core.settings import Settings
from scd_core.store import RunStore
from scd_core.stores import open_store

from functions.appconfig import parse_config
from functions.trigger.launcher import Launcher
from functions.trigger.runs_api import cancel_run_now, rerun_run
from functions.trigger.state import TriggerState


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    yield opened
    opened.close()


def test_a_rerun_is_announced_queued_and_its_cancel_finished(
    store: RunStore, tmp_path: Path
) -> None:
    heard: list[tuple[str, str, str]] = []

    def listener(change: Change) -> None:  # the store already holds what it hears
        heard.append((change.name, change.run.id, store.get_run(change.run.id).status))

    invoker = MemoryInvoker()
    launcher = Launcher(store, invoker, Lifecycle(store, [listener]))
    state = TriggerState(
        settings=Settings(data_dir=tmp_path, config=tmp_path / "scd.yaml"),
        config=parse_config(config_yaml(WEB_APP)),
        launcher=launcher,
    )
    event = Event(provider="github", event_name="push", ref="refs/heads/main")
    first, _ = store.create_run(Run(id="f" * 32, app="web", dedup_key="first", event=event))
    again = rerun_run(state, first.id)
    assert cancel_run_now(state, again.id) == "cancelled"
    assert heard == [("run.queued", again.id, "queued"), ("run.finished", again.id, "cancelled")]
    assert store.get_run(again.id).message == CANCELLED_QUEUED
    assert [job.id for job in invoker.jobs] == [again.id]
    assert invoker.stopped == [again.id]
