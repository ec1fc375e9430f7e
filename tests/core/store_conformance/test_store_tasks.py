"""RunRecords' task states: inside the run record, round-tripping exactly, changed together
with the run by one conditional update (how the tasks of a DAG fan in)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from factories import make_run, make_task
from racing import race
from scd_core.errors import Conflict
from scd_core.models import Run
from scd_core.store import RunStore

ROLE = "runs"
SHANGHAI = timezone(timedelta(hours=8))


def _tasks_run() -> Run:
    started = datetime(2026, 5, 6, 15, 8, 9, 10, tzinfo=SHANGHAI)
    return make_run(
        1,
        status="running",
        tasks=[
            make_task("lint", status="success", started_at=started, finished_at=started),
            make_task(
                "build (node 18, linux)",
                task="build",
                name="Build",
                matrix={"node": 18, "os": "linux", "extra": {"flags": ["-O2", None, 1.5]}},
                status="running",
                attempt=2,
                started_at=datetime(2026, 5, 6, 7, 8, 9),  # naive: taken as UTC
                outputs={"artifact": "dist/ü.tar.gz"},
                region="cn-hangzhou",
                message="half \ud800 a surrogate",
            ),
        ],
    )


def test_a_runs_tasks_round_trip_exactly_with_times_in_utc(store: RunStore) -> None:
    run = _tasks_run()
    stored, _ = store.create_run(run)
    for got in (stored, store.get_run("run-1"), store.find_run("github:delivery-1")):
        assert got is not None
        lint, build = got.tasks
        assert lint.model_dump(exclude={"started_at", "finished_at"}) == run.tasks[0].model_dump(
            exclude={"started_at", "finished_at"}
        )
        assert lint.started_at == run.tasks[0].started_at
        assert build.model_dump(exclude={"started_at"}) == run.tasks[1].model_dump(
            exclude={"started_at"}
        )
        assert build.started_at == datetime(2026, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
        for task in got.tasks:
            for when in (task.started_at, task.finished_at):
                assert when is None or when.tzinfo is timezone.utc
    (listed,), _ = store.list_runs()
    assert listed == store.get_run("run-1")


def test_update_run_changes_the_run_and_its_tasks_together(store: RunStore) -> None:
    stored, _ = store.create_run(make_run(1, tasks=[make_task("a"), make_task("b")]))
    a, b = stored.tasks
    done = [a.model_copy(update={"status": "success"}), b]
    updated = store.update_run(stored.model_copy(update={"tasks": done}))
    again = store.get_run("run-1")
    assert again == updated
    assert [(t.id, t.status) for t in again.tasks] == [("a", "success"), ("b", "queued")]
    with pytest.raises(Conflict):  # a writer that read the run before the change loses
        store.update_run(stored.model_copy(update={"status": "failure"}))
    assert store.get_run("run-1").tasks == again.tasks


def test_tasks_finishing_at_once_fan_in_through_conditional_updates(store: RunStore) -> None:
    ids = [f"t{i}" for i in range(8)]
    store.create_run(make_run(1, status="running", tasks=[make_task(i) for i in ids]))

    def finish(i: int) -> int:
        """Mark task i done, re-reading on conflict; the number of attempts."""
        for attempt in range(1, 100):
            run = store.get_run("run-1")
            tasks = [
                t.model_copy(update={"status": "success"}) if t.id == ids[i] else t
                for t in run.tasks
            ]
            last = all(t.status == "success" for t in tasks)
            try:
                store.update_run(
                    run.model_copy(
                        update={"tasks": tasks, "status": "success" if last else run.status}
                    )
                )
            except Conflict:
                continue
            return attempt
        raise AssertionError("never won")

    race(len(ids), finish)
    final = store.get_run("run-1")
    assert [t.status for t in final.tasks] == ["success"] * len(ids)
    assert final.status == "success"
    assert final.version == len(ids)
