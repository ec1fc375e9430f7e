"""RunRecords' steps: upserts keyed by (run, task, step), listed in order, times in UTC."""

from __future__ import annotations

from datetime import datetime, timezone

from factories import make_run, make_step
from scd_core.models import DEFAULT_TASK, StepState
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


def test_steps_are_keyed_by_task_so_equal_ids_in_two_tasks_both_stay(store: RunStore) -> None:
    store.put_step("run-1", make_step("build", task="linux", status="success"))
    store.put_step("run-1", make_step("build", task="windows", status="failure"))
    store.put_step("run-1", make_step("build", task="linux", status="failure", message="again"))
    linux = store.list_steps("run-1", "linux")
    assert [(s.task, s.id, s.status, s.message) for s in linux] == [
        ("linux", "build", "failure", "again")
    ]
    windows = store.list_steps("run-1", "windows")
    assert [(s.task, s.id, s.status) for s in windows] == [("windows", "build", "failure")]


def test_list_steps_of_every_task_orders_by_task_then_index_then_id(store: RunStore) -> None:
    for task, step_id, index in [
        ("test", "b", 1),
        ("build", "z", 0),
        ("test", "a", 1),
        ("build", "y", 2),
        ("test", "c", 0),
        (DEFAULT_TASK, "setup", -1),
    ]:
        store.put_step("run-1", make_step(step_id, index=index, task=task))
    listed = [(s.task, s.index, s.id) for s in store.list_steps("run-1")]
    assert listed == [
        ("build", 0, "z"),
        ("build", 2, "y"),
        (DEFAULT_TASK, -1, "setup"),
        ("test", 0, "c"),
        ("test", 1, "a"),
        ("test", 1, "b"),
    ]
    assert [s.id for s in store.list_steps("run-1", "test")] == ["c", "a", "b"]


def test_a_step_without_a_task_is_the_default_tasks(store: RunStore) -> None:
    store.put_step("run-1", StepState(id="0", index=0, status="running"))
    store.put_step("run-1", make_step("0", task="other"))
    (step,) = store.list_steps("run-1", DEFAULT_TASK)
    assert (step.task, step.status) == (DEFAULT_TASK, "running")


def test_list_steps_of_an_unknown_task_or_run_is_empty(store: RunStore) -> None:
    store.put_step("run-1", make_step("build", task="linux"))
    assert store.list_steps("run-1", "mac") == []
    assert store.list_steps("run-2", "linux") == []
    assert store.list_steps("run-2") == []


def test_a_step_read_back_equals_the_step_written(store: RunStore) -> None:
    started = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=timezone.utc)
    step = make_step(
        "deploy",
        index=3,
        task="build (node 18, linux)",
        name="Deploy",
        status="success",
        outcome="failure",
        conclusion="success",
        started_at=started,
        finished_at=started,
        outputs={"url": "https://example.com/ü"},
        message="continue-on-error",
    )
    store.put_step("run-1", step)
    assert store.list_steps("run-1", "build (node 18, linux)") == [step]
