"""RunRecords' steps: upserts keyed by (run, task, step), listed in order, times in UTC."""

from __future__ import annotations

from datetime import datetime, timezone

from factories import make_run
from scd_core.models import StepState
from scd_core.store import RunStore

ROLE = "runs"


def test_put_step_upserts_and_list_steps_orders_by_index(store: RunStore) -> None:
    store.create_run(make_run(1))
    store.put_step("run-1", StepState(id="test", index=1, status="running"))
    store.put_step("run-1", StepState(id="build", index=0, status="success", outputs={"a": "b"}))
    store.put_step("run-1", StepState(id="test", index=1, status="failure", message="exit 1"))
    steps = store.list_steps("run-1")
    assert [(s.id, s.status) for s in steps] == [("build", "success"), ("test", "failure")]
    assert steps[0].outputs == {"a": "b"}
    assert steps[1].message == "exit 1"


def test_steps_keep_their_times_in_utc_and_belong_to_their_run(store: RunStore) -> None:
    started = datetime(2026, 3, 4, 5, 6, 7)
    store.put_step("run-1", StepState(id="s", started_at=started))
    store.put_step("run-2", StepState(id="s", status="skipped"))
    (step,) = store.list_steps("run-1")
    assert step.started_at == started.replace(tzinfo=timezone.utc)
    assert step.started_at is not None
    assert step.started_at.tzinfo is timezone.utc
    assert [s.status for s in store.list_steps("run-2")] == ["skipped"]
    assert store.list_steps("run-unknown") == []
