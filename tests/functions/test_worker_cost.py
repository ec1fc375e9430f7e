"""A worker on Function Compute records its instance size on the task it runs, so the run's
cost follows from the measured duration; off FC nothing is recorded; its steps record what
their processes used."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import make_repo
from scd_core.billing import DEFAULT_FC_PRICES, bill_tasks
from scd_core.lifecycle import Lifecycle
from scd_core.sinks.file import FileLogSink
from scd_core.store import RunStore
from scd_core.stores import open_store
from test_worker_support import new_job

from functions.worker.execute import Execution, WorkerEnv

SPEC = "steps:\n  - id: busy\n    run: python3 -c 'sum(range(3_000_000))'\n"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    yield opened
    opened.close()


def _run(store: RunStore, tmp_path: Path, extra: dict[str, str]) -> str:
    repo, sha = make_repo(tmp_path / "repo", {"serverless-pipeline.yaml": SPEC})
    job = new_job(store, f"file://{repo}", sha)
    env = WorkerEnv(
        store=store,
        sink=FileLogSink(tmp_path / "logs"),
        data_dir=tmp_path,
        lease_ttl_s=30,
        grace_s=1,
        load_app=lambda name: None,
        environ={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **extra},
        lifecycle=Lifecycle(store),
    )
    assert Execution(env, job, owner="w1").run().status == "success"
    return job.id


def test_on_fc_the_task_records_its_size_and_the_run_bills_its_duration(
    store: RunStore, tmp_path: Path
) -> None:
    fc = {"FC_FUNCTION_NAME": "worker", "FC_FUNCTION_MEMORY_SIZE": "2048", "SCD_FC_VCPU": "1.5"}
    run = store.get_run(_run(store, tmp_path, fc))
    [task] = run.tasks
    assert (task.memory_mb, task.vcpu) == (2048, 1.5)
    assert task.started_at is not None
    assert task.finished_at is not None
    seconds = (task.finished_at - task.started_at).total_seconds()
    bill = bill_tasks(run.tasks)
    assert bill is not None
    assert bill.invocations == 1
    assert bill.complete
    assert bill.gb_seconds == pytest.approx(2 * seconds)
    assert bill.vcpu_seconds == pytest.approx(1.5 * seconds)
    cu = 0.0075 + 1.5 * seconds + 0.15 * 2 * seconds
    assert bill.usd == pytest.approx(cu * DEFAULT_FC_PRICES.usd_per_cu)
    [step] = [s for s in store.list_steps(run.id) if s.id != "setup"]
    assert step.cpu_seconds is not None
    assert step.cpu_seconds > 0


def test_off_fc_nothing_is_billed(store: RunStore, tmp_path: Path) -> None:
    run = store.get_run(_run(store, tmp_path, {}))
    assert (run.tasks[0].memory_mb, run.tasks[0].vcpu) == (None, None)
    assert bill_tasks(run.tasks) is None


def test_a_malformed_size_costs_nothing_and_the_run_still_runs(
    store: RunStore, tmp_path: Path
) -> None:
    run = store.get_run(_run(store, tmp_path, {"FC_FUNCTION_MEMORY_SIZE": "lots"}))
    assert run.tasks[0].memory_mb is None
