"""The run lifecycle on a real SQLite store: claims, endings written once, fan-in, events."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scd_core.errors import Conflict
from scd_core.lifecycle import ATTEMPTS, CANCELLED_QUEUED, LOST_MESSAGE, Change, Lifecycle
from scd_core.lifecycle_keys import lease_key, legacy_lease_key, log_key
from scd_core.models import Event, Run, Status, StepState, TaskState
from scd_core.sinks.file import FileLogSink
from scd_core.store import RunStore
from scd_core.stores import open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    yield opened
    opened.close()


@pytest.fixture
def heard() -> list[Change]:
    return []


@pytest.fixture
def lifecycle(store: RunStore, heard: list[Change]) -> Lifecycle:
    return Lifecycle(store, [heard.append])


def queued_run(store: RunStore, run_id: str = "r1") -> Run:
    event = Event(provider="github", event_name="push")
    run, _ = store.create_run(Run(id=run_id, app="web", dedup_key=run_id, event=event))
    return run


def running_run(lifecycle: Lifecycle, run_id: str = "r1", owner: str = "w1") -> Run:
    queued_run(lifecycle.store, run_id)
    claim = lifecycle.claim(run_id, owner=owner, ttl_s=60)
    assert claim.run is not None
    return claim.run


def names(changes: list[Change]) -> list[str]:
    return [change.name for change in changes]


# -- claiming --------------------------------------------------------------------


def test_a_claim_runs_the_default_task_holds_its_lease_and_says_so_in_order(
    store: RunStore, lifecycle: Lifecycle, heard: list[Change]
) -> None:
    queued_run(store)
    claim = lifecycle.claim("r1", owner="w1", ttl_s=60, region="cn-hangzhou")
    assert claim.run is not None
    assert claim.skipped is None
    stored = store.get_run("r1")
    assert stored.status == "running"
    assert stored.started_at is not None
    [task] = stored.tasks
    assert (task.id, task.status, task.attempt, task.region) == (
        "default",
        "running",
        1,
        "cn-hangzhou",
    )
    assert not store.acquire_lease(lease_key("r1"), "w2", 60)  # the claimer holds it
    assert names(heard) == ["run.started", "task.started"]
    assert heard[1].task is not None
    assert heard[1].task.id == "default"
    assert heard[0].run == stored  # the record as written, version included


def test_a_claim_skips_an_unknown_run_a_final_run_and_a_task_leased_elsewhere(
    store: RunStore, lifecycle: Lifecycle
) -> None:
    assert lifecycle.claim("nope", owner="w", ttl_s=60).skipped == "no such run"
    running_run(lifecycle, "r1", owner="w1")
    assert lifecycle.claim("r1", owner="w2", ttl_s=60).skipped == (
        "run is being run by another worker"
    )
    lifecycle.end_task("r1", "default", "success")
    assert lifecycle.claim("r1", owner="w3", ttl_s=60).skipped == "run already success"


def test_a_task_whose_worker_died_is_taken_over_as_the_next_attempt(
    store: RunStore, lifecycle: Lifecycle, heard: list[Change]
) -> None:
    queued_run(store)
    assert lifecycle.claim("r1", owner="dead", ttl_s=0.01).run is not None
    time.sleep(0.05)  # the dead worker's lease runs out
    heard.clear()
    claim = lifecycle.claim("r1", owner="w2", ttl_s=60)
    assert claim.run is not None
    assert (claim.run.attempt, claim.run.tasks[0].attempt) == (2, 2)
    assert names(heard) == ["run.started", "task.started"]


def test_a_claim_for_a_later_attempt_takes_that_attempt_number(
    store: RunStore, lifecycle: Lifecycle
) -> None:
    queued_run(store)
    claim = lifecycle.claim("r1", owner="w", ttl_s=60, attempt=3)
    assert claim.run is not None
    assert claim.run.tasks[0].attempt == 3
    assert claim.run.attempt == 3


# -- ending ----------------------------------------------------------------------


def test_ending_the_one_task_ends_the_run_task_first_then_run(
    store: RunStore, lifecycle: Lifecycle, heard: list[Change]
) -> None:
    running_run(lifecycle)
    heard.clear()
    ended = lifecycle.end_task("r1", "default", "failure", "step 2 failed")
    assert ended is not None
    stored = store.get_run("r1")
    assert (stored.status, stored.message) == ("failure", "step 2 failed")
    assert stored.tasks[0].status == "failure"
    assert stored.tasks[0].finished_at is not None
    assert names(heard) == ["task.finished", "run.finished"]
    assert heard[1].run.status == "failure"


def test_concurrent_endings_are_written_once_and_the_first_one_wins(
    store: RunStore, lifecycle: Lifecycle
) -> None:
    running_run(lifecycle)
    results: dict[str, object] = {}
    statuses: list[Status] = ["success", "failure", "cancelled", "error"] * 2

    def end(i: int) -> None:
        results[f"{i}"] = lifecycle.end_run("r1", statuses[i], f"by {i}")

    threads = [threading.Thread(target=end, args=(i,)) for i in range(len(statuses))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [key for key, value in results.items() if value is not None]
    assert len(winners) == 1
    final = store.get_run("r1")
    assert final.status == statuses[int(winners[0])]
    assert final.message == f"by {winners[0]}"
    assert final.tasks[0].status == final.status


def test_ending_a_final_run_changes_nothing_but_repeats_its_event(
    store: RunStore, lifecycle: Lifecycle, heard: list[Change]
) -> None:
    running_run(lifecycle)
    assert lifecycle.end_run("r1", "success") is not None
    version = store.get_run("r1").version
    heard.clear()
    assert lifecycle.end_run("r1", "error", "late") is None
    assert lifecycle.end_task("r1", "default", "error", "late") is None
    stored = store.get_run("r1")
    assert (stored.status, stored.version, stored.message) == ("success", version, None)
    # at least once: a repeated ending delivers its finished changes again, same keys
    assert names(heard) == ["run.finished", "task.finished", "run.finished"]
    assert heard[0].key == heard[2].key


def test_a_run_ends_when_its_last_task_does_with_the_worst_status(
    store: RunStore, lifecycle: Lifecycle, heard: list[Change]
) -> None:
    queued_run(store)
    assert lifecycle.claim("r1", "build", owner="w1", ttl_s=60).run is not None
    assert lifecycle.claim("r1", "lint", owner="w2", ttl_s=60).run is not None
    heard.clear()
    assert lifecycle.end_task("r1", "lint", "failure") is not None
    assert store.get_run("r1").status == "running"  # build still runs
    assert lifecycle.end_task("r1", "build", "success") is not None
    stored = store.get_run("r1")
    assert stored.status == "failure"
    assert {t.id: t.status for t in stored.tasks} == {"build": "success", "lint": "failure"}
    assert names(heard) == ["task.finished", "task.finished", "run.finished"]


def test_ending_the_run_ends_a_running_task_with_it_and_skips_one_not_started(
    store: RunStore, lifecycle: Lifecycle
) -> None:
    run = running_run(lifecycle)
    run.tasks.append(TaskState(id="later", task="later"))
    store.update_run(run)  # a task recorded but not started (the DAG's next one)
    lifecycle.end_run("r1", "error", "boom")
    stored = store.get_run("r1")
    assert {t.id: t.status for t in stored.tasks} == {"default": "error", "later": "skipped"}


def test_open_steps_end_as_error_or_skipped_and_finished_ones_stay(
    store: RunStore, lifecycle: Lifecycle
) -> None:
    running_run(lifecycle)
    store.put_step("r1", StepState(id="done", index=0, status="success"))
    store.put_step("r1", StepState(id="busy", index=1, status="running"))
    store.put_step("r1", StepState(id="later", index=2, status="pending"))
    lifecycle.end_open_steps("r1", "worker lost")
    steps = {step.id: step for step in store.list_steps("r1")}
    assert steps["done"].status == "success"
    assert (steps["busy"].status, steps["busy"].message) == ("error", "worker lost")
    assert steps["later"].status == "skipped"
    assert steps["busy"].finished_at is not None


def test_ending_open_steps_of_one_task_leaves_the_other_tasks_steps(
    store: RunStore, lifecycle: Lifecycle
) -> None:
    running_run(lifecycle)
    store.put_step("r1", StepState(id="a", task="default", index=0, status="running"))
    store.put_step("r1", StepState(id="b", task="lint", index=0, status="running"))
    lifecycle.end_open_steps("r1", "gone", task="lint")
    steps = {step.id: step.status for step in store.list_steps("r1")}
    assert steps == {"a": "running", "b": "error"}


def test_end_step_records_its_status_outcome_conclusion_and_end(
    store: RunStore, lifecycle: Lifecycle
) -> None:
    running_run(lifecycle)
    step = StepState(id="setup", index=-1, status="running")
    lifecycle.end_step("r1", step, "error", "checkout failed")
    [stored] = store.list_steps("r1")
    assert (stored.status, stored.outcome, stored.conclusion) == ("error", "error", "error")
    assert stored.message == "checkout failed"
    assert stored.finished_at is not None


def test_cancelling_ends_only_a_queued_run(
    store: RunStore, lifecycle: Lifecycle, heard: list[Change]
) -> None:
    queued_run(store, "q")
    running_run(lifecycle, "r")
    heard.clear()
    assert lifecycle.cancel_queued("q") is True
    assert lifecycle.cancel_queued("q") is False  # already ended
    assert lifecycle.cancel_queued("r") is False  # its worker ends it
    stored = store.get_run("q")
    assert (stored.status, stored.message) == ("cancelled", CANCELLED_QUEUED)
    assert store.get_run("r").status == "running"
    assert names(heard) == ["run.finished"]


def test_a_queued_run_cancelled_while_a_worker_claims_it_is_never_both(
    store: RunStore, lifecycle: Lifecycle
) -> None:
    for n in range(20):
        queued_run(store, f"q{n}")
    results: dict[str, tuple[bool, bool]] = {}

    def race(run_id: str) -> None:
        claim: list[bool] = []
        thread = threading.Thread(
            target=lambda: claim.append(
                lifecycle.claim(run_id, owner="w", ttl_s=60).run is not None
            )
        )
        thread.start()
        cancelled = lifecycle.cancel_queued(run_id)
        thread.join()
        results[run_id] = (claim[0], cancelled)

    for n in range(20):
        race(f"q{n}")
    for run_id, (claimed, cancelled) in results.items():
        assert claimed != cancelled, run_id  # exactly one of them won
        assert store.get_run(run_id).status == ("running" if claimed else "cancelled")


# -- reaping ---------------------------------------------------------------------


def test_reaping_ends_a_task_whose_lease_expired_with_its_steps_and_logs(
    store: RunStore, lifecycle: Lifecycle, tmp_path: Path
) -> None:
    sink = FileLogSink(tmp_path / "logs")
    queued_run(store)
    assert lifecycle.claim("r1", owner="dead", ttl_s=0.01).run is not None
    store.put_step("r1", StepState(id="nap", index=0, status="running"))
    sink.append("r1", "nap", b"2026-11-27T07:20:25.123Z before\n")
    time.sleep(0.05)
    assert lifecycle.reap(store.get_run("r1"), 5, sink) is True
    stored = store.get_run("r1")
    assert (stored.status, stored.message) == ("error", LOST_MESSAGE)
    assert stored.tasks[0].status == "error"
    assert [s.status for s in store.list_steps("r1")] == ["error"]
    assert sink.read("r1", "nap", sink.read("r1", "nap").offset).closed
    assert lifecycle.reap(store.get_run("r1"), 5, sink) is False  # nothing running


def test_reaping_spares_a_task_whose_worker_renews_its_lease(
    store: RunStore, lifecycle: Lifecycle
) -> None:
    running_run(lifecycle, owner="alive")
    assert lifecycle.reap(store.get_run("r1"), 5) is False
    assert store.get_run("r1").status == "running"


def test_reaping_a_run_from_before_tasks_respects_its_old_lease(
    store: RunStore, lifecycle: Lifecycle
) -> None:
    run = queued_run(store)
    run.status = "running"  # as the previous release's worker recorded it
    store.update_run(run)
    assert store.acquire_lease(legacy_lease_key("r1"), "old-worker", 60)
    assert lifecycle.reap(store.get_run("r1"), 5) is False
    store.release_lease(legacy_lease_key("r1"), "old-worker")
    assert lifecycle.reap(store.get_run("r1"), 5) is True
    assert store.get_run("r1").status == "error"


# -- listeners and the retry loop ---------------------------------------------------


def test_listeners_run_after_the_write_in_order_and_a_failing_one_is_logged(
    store: RunStore, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, str, str]] = []

    def broken(change: Change) -> None:
        raise RuntimeError("listener bug")

    def reader(change: Change) -> None:  # sees the store already written
        seen.append((change.name, "reader", store.get_run(change.run.id).status))

    lifecycle = Lifecycle(store, [broken, reader])
    queued_run(store)
    with caplog.at_level(logging.ERROR, logger="scd.lifecycle"):
        claim = lifecycle.claim("r1", owner="w", ttl_s=60)
        lifecycle.end_task("r1", "default", "success")
    assert claim.run is not None
    assert store.get_run("r1").status == "success"
    assert seen == [
        ("run.started", "reader", "running"),
        ("task.started", "reader", "running"),
        ("task.finished", "reader", "success"),
        ("run.finished", "reader", "success"),
    ]
    failures = [r for r in caplog.records if "listener" in r.getMessage()]
    assert len(failures) == 4
    assert all(r.exc_info for r in failures)


def test_a_listener_may_call_the_lifecycle_itself(store: RunStore) -> None:
    lifecycle = Lifecycle(store)

    def fan_in(change: Change) -> None:  # as a DAG would: start the next task
        if change.name == "task.finished" and change.task and change.task.id == "build":
            lifecycle.claim(change.run.id, "deploy", owner="w2", ttl_s=60)

    lifecycle.listen(fan_in)
    queued_run(store)
    lifecycle.claim("r1", "build", owner="w1", ttl_s=60)
    run = store.get_run("r1")
    run.tasks.append(TaskState(id="deploy", task="deploy"))
    store.update_run(run)
    lifecycle.end_task("r1", "build", "success")
    stored = store.get_run("r1")
    assert {t.id: t.status for t in stored.tasks} == {"build": "success", "deploy": "running"}
    assert stored.status == "running"


def test_queued_announces_each_new_run_in_order_and_builds_nothing_unheard(
    store: RunStore,
) -> None:
    runs = [queued_run(store, f"r{n}") for n in range(3)]
    heard: list[Change] = []
    silent = Lifecycle(store)
    silent.queued(runs)  # no listener: nothing to call
    assert not silent.listeners
    loud = Lifecycle(store, [heard.append])
    loud.queued(runs)
    assert [(c.name, c.run.id) for c in heard] == [("run.queued", f"r{n}") for n in range(3)]


class _AlwaysConflicting:
    """A store whose conditional update always loses, as under a runaway writer."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.updates = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def update_run(self, run: Run) -> Run:
        self.updates += 1
        raise Conflict("lost the race")


def test_the_retry_loop_gives_up_with_conflict_after_its_attempts(store: RunStore) -> None:
    queued_run(store)
    racing = _AlwaysConflicting(store)
    lifecycle = Lifecycle(racing)  # type: ignore[arg-type]
    with pytest.raises(Conflict, match="gave up"):
        lifecycle.end_run("r1", "error")
    assert racing.updates == ATTEMPTS


# -- keys ------------------------------------------------------------------------


def test_log_keys_keep_the_default_task_s_and_never_collide() -> None:
    from scd_core.lifecycle_keys import in_task
    from scd_core.logsink import validate_id

    assert log_key("default", "build") == "build"
    pairs = [
        ("lint", "setup"),
        ("lint.setup", "x"),
        ("build (node 18, linux)", "0"),
        ("build (node 18 linux)", "0"),
        ("ビルド", "test"),
        ("a_b", "c"),
        ("a", "b_c"),
    ]
    keys = [log_key(task, step) for task, step in pairs]
    assert len(set(keys)) == len(keys)
    assert all("." in key for key in keys)  # a step key of the default task has none
    for (task, _), key in zip(pairs, keys, strict=True):
        assert validate_id("step", key) == key
        assert in_task(key, task)
        assert not in_task(key, "default")
    assert in_task("build", "default")
    assert not in_task("build", "lint")
