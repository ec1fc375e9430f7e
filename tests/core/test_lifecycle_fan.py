"""The DAG through the lifecycle: fan-out, fan-in in one conditional write, exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from scd_core.lifecycle import Change, Fan, FanIn, Lifecycle
from scd_core.lifecycle_fan import Decided
from scd_core.models import Event, Run, TaskState
from scd_core.store import RunStore
from scd_core.stores import open_store
from scd_engine.plan import Plan, compile_plan
from scd_engine.plan.progress import progress
from scd_engine.spec import load_pipeline

DIAMOND = """\
tasks:
  a: {steps: [{run: x}]}
  b: {needs: a, matrix: {n: [1, 2]}, steps: [{run: x}]}
  c: {needs: a, steps: [{run: x}]}
  d: {needs: [b, c], steps: [{run: x}]}
"""


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'scd.db'}"


@pytest.fixture
def store(db: str) -> Iterator[RunStore]:
    opened = open_store(db)
    yield opened
    opened.close()


def fan_of(plan: Plan) -> Fan:
    def fan(tasks: Sequence[TaskState]) -> Sequence[Decided]:
        return progress(plan, tasks, {}).states

    return fan


def started(lifecycle: Lifecycle, plan: Plan, run_id: str) -> FanIn:
    """A run created, claimed by its first invocation and fanned out from the plan."""
    event = Event(provider="github", event_name="push")
    lifecycle.store.create_run(Run(id=run_id, app="web", dedup_key=run_id, event=event))
    assert lifecycle.claim(run_id, owner="planner", ttl_s=60).run is not None
    fanned = lifecycle.fan_out(run_id, "default", fan_of(plan))
    lifecycle.release(run_id, "default", "planner")
    return fanned


def run_task(lifecycle: Lifecycle, plan: Plan, run_id: str, task: str) -> FanIn:
    assert lifecycle.claim(run_id, task, owner=f"w-{task}", ttl_s=60).run is not None
    return lifecycle.end_and_fan(run_id, task, "success", fan=fan_of(plan))


def statuses(store: RunStore, run_id: str) -> dict[str, str]:
    return {t.id: t.status for t in store.get_run(run_id).tasks}


def test_a_diamond_runs_in_order_and_its_last_task_ends_the_run(store: RunStore) -> None:
    heard: list[Change] = []
    lifecycle = Lifecycle(store, [heard.append])
    plan = compile_plan(load_pipeline("p.yaml", DIAMOND))
    first = started(lifecycle, plan, "r1")
    assert [t.id for t in first.ready] == ["a"]
    assert statuses(store, "r1") == {"a": "queued"}  # the planner's own task is gone
    assert [t.id for t in run_task(lifecycle, plan, "r1", "a").ready] == ["b (1)", "b (2)", "c"]
    assert store.get_run("r1").tasks[1].matrix == {"n": 1}
    assert run_task(lifecycle, plan, "r1", "b (1)").ready == []
    assert run_task(lifecycle, plan, "r1", "c").ready == []
    assert [t.id for t in run_task(lifecycle, plan, "r1", "b (2)").ready] == ["d"]
    assert store.get_run("r1").status == "running"
    last = run_task(lifecycle, plan, "r1", "d")
    assert last.run is not None
    assert last.run.status == "success"
    assert [c.name for c in heard][-2:] == ["task.finished", "run.finished"]


def test_fanning_out_twice_writes_once(store: RunStore) -> None:
    lifecycle = Lifecycle(store)
    plan = compile_plan(load_pipeline("p.yaml", DIAMOND))
    started(lifecycle, plan, "r1")
    again = lifecycle.fan_out("r1", "default", fan_of(plan))
    assert again.run is None
    assert again.ready == []


def test_a_failed_task_skips_its_dependants_and_the_run_fails(store: RunStore) -> None:
    lifecycle = Lifecycle(store)
    plan = compile_plan(load_pipeline("p.yaml", DIAMOND))
    started(lifecycle, plan, "r1")
    assert lifecycle.claim("r1", "a", owner="w", ttl_s=60).run is not None
    ended = lifecycle.end_and_fan("r1", "a", "failure", fan=fan_of(plan))
    assert ended.ready == []
    assert statuses(store, "r1") == {"a": "failure", "b": "skipped", "c": "skipped", "d": "skipped"}
    assert store.get_run("r1").status == "failure"


def test_a_cancelled_run_dispatches_no_more(store: RunStore) -> None:
    lifecycle = Lifecycle(store)
    plan = compile_plan(load_pipeline("p.yaml", DIAMOND))
    started(lifecycle, plan, "r1")
    assert lifecycle.claim("r1", "a", owner="w", ttl_s=60).run is not None
    lifecycle.end_run("r1", "cancelled", "cancelled by a user")
    late = lifecycle.end_and_fan("r1", "a", "success", fan=fan_of(plan))
    assert late.run is None
    assert late.ready == []
    assert statuses(store, "r1") == {"a": "cancelled"}


def test_two_tasks_ending_at_once_on_two_workers_make_their_dependant_ready_once(
    db: str, store: RunStore
) -> None:
    """Each worker has its own SQLite connection; both end a need of ``d`` together."""
    plan = compile_plan(load_pipeline("p.yaml", DIAMOND))
    rounds = 25
    for round_no in range(rounds):
        run_id = f"r{round_no}"
        lifecycle = Lifecycle(store)
        started(lifecycle, plan, run_id)
        run_task(lifecycle, plan, run_id, "a")
        run_task(lifecycle, plan, run_id, "b (1)")
        for task in ("b (2)", "c"):
            assert lifecycle.claim(run_id, task, owner=task, ttl_s=60).run is not None
        barrier = threading.Barrier(2)
        results: dict[str, FanIn] = {}

        def worker(
            task: str,
            run_id: str = run_id,
            barrier: threading.Barrier = barrier,
            results: dict[str, FanIn] = results,
        ) -> None:
            own = open_store(db)
            try:
                mine = Lifecycle(own)
                barrier.wait(timeout=30)
                results[task] = mine.end_and_fan(run_id, task, "success", fan=fan_of(plan))
            finally:
                own.close()

        threads = [threading.Thread(target=worker, args=(t,)) for t in ("b (2)", "c")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        ready = [s.id for fan_in in results.values() for s in fan_in.ready]
        assert len(results) == 2
        assert ready == ["d"], f"round {round_no}: {ready}"
        assert all(fan_in.run is not None for fan_in in results.values())
        assert statuses(store, run_id)["d"] == "queued"


def test_a_decision_made_on_a_stale_run_is_never_written(db: str, store: RunStore) -> None:
    """Forced interleaving: worker C reads the run, worker B ends its task and makes
    ``d`` ready, then C writes: C's update conflicts, C decides again on B's version,
    and ``d`` is not made ready a second time."""
    plan = compile_plan(load_pipeline("p.yaml", DIAMOND))
    lifecycle = Lifecycle(store)
    started(lifecycle, plan, "r1")
    run_task(lifecycle, plan, "r1", "a")
    run_task(lifecycle, plan, "r1", "b (1)")
    for task in ("b (2)", "c"):
        assert lifecycle.claim("r1", task, owner=task, ttl_s=60).run is not None
    c_read, b_wrote = threading.Event(), threading.Event()
    slow = open_store(db)
    reads = {"n": 0}
    real_get = slow.get_run

    def get_run(run_id: str) -> Run:
        run = real_get(run_id)
        reads["n"] += 1
        if reads["n"] == 1:  # C's first read: let B go ahead, then write on stale data
            c_read.set()
            assert b_wrote.wait(timeout=30)
        return run

    slow.get_run = get_run  # type: ignore[method-assign]
    results: dict[str, FanIn] = {}

    def c_ends() -> None:
        results["c"] = Lifecycle(slow).end_and_fan("r1", "c", "success", fan=fan_of(plan))

    thread = threading.Thread(target=c_ends)
    thread.start()
    assert c_read.wait(timeout=30)
    results["b"] = lifecycle.end_and_fan("r1", "b (2)", "success", fan=fan_of(plan))
    b_wrote.set()
    thread.join(timeout=60)
    slow.close()
    assert [s.id for s in results["b"].ready] == []  # c was still running when b ended
    assert [s.id for s in results["c"].ready] == ["d"]  # c decided again, on b's version
    assert reads["n"] >= 2  # its first decision was made stale and retried
    assert statuses(store, "r1")["d"] == "queued"
