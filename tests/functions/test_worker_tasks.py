"""The worker and tasks: one pipeline of ``steps:`` is the task ``default``, recorded through
the lifecycle with its events, its lease and its steps; old queued jobs still run."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import make_repo
from scd_core.invokers.local import LocalInvoker
from scd_core.invokers.queue import TaskQueue
from scd_core.invokers.results import InvocationResult
from scd_core.lifecycle import Change, Lifecycle
from scd_core.lifecycle_keys import lease_key, log_key
from scd_core.models import Event, Job, Run
from scd_core.sinks.file import FileLogSink
from scd_core.store import RunStore
from scd_core.stores import open_store
from test_worker_support import log_text, new_job, worker_process

from functions.worker.execute import Execution, WorkerEnv

SPEC = "steps:\n  - id: hello\n    run: echo hello from the task\n"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def store(data_dir: Path) -> Iterator[RunStore]:
    opened = open_store(f"sqlite:///{data_dir / 'scd.db'}")
    yield opened
    opened.close()


def _env(store: RunStore, data_dir: Path, heard: list[Change]) -> WorkerEnv:
    return WorkerEnv(
        store=store,
        sink=FileLogSink(data_dir / "logs"),
        data_dir=data_dir,
        lease_ttl_s=30,
        grace_s=1,
        load_app=lambda name: None,
        environ={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        lifecycle=Lifecycle(store, [heard.append]),
    )


def test_a_steps_pipeline_runs_as_the_task_default_with_its_events_in_order(
    store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    repo, sha = make_repo(tmp_path / "repo", {"serverless-pipeline.yaml": SPEC})
    job = new_job(store, f"file://{repo}", sha)
    heard: list[Change] = []
    outcome = Execution(_env(store, data_dir, heard), job, owner="w1").run()
    assert outcome.status == "success"
    run = store.get_run(job.id)
    [task] = run.tasks
    assert (task.id, task.status, task.attempt) == ("default", "success", 1)
    assert task.started_at is not None
    assert task.finished_at is not None
    assert {step.task for step in store.list_steps(job.id)} == {"default"}
    expected = ["run.started", "task.started", "task.finished", "run.finished"]
    assert [c.name for c in heard] == expected
    assert heard[-1].run.status == "success"
    assert store.acquire_lease(lease_key(job.id, "default"), "next", 5)  # released
    assert "hello from the task" in log_text(data_dir, job.id, log_key("default", "hello"))


def test_a_job_for_a_task_the_pipeline_lacks_ends_that_task_error_in_its_own_log(
    store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    repo, sha = make_repo(tmp_path / "repo", {"serverless-pipeline.yaml": SPEC})
    job = new_job(store, f"file://{repo}", sha).model_copy(update={"task": "deploy"})
    outcome = Execution(_env(store, data_dir, []), job, owner="w1").run()
    assert outcome.status == "error"
    run = store.get_run(job.id)
    assert [(t.id, t.status) for t in run.tasks] == [("deploy", "error")]
    assert run.message == "the pipeline has no task 'deploy'"
    [setup] = store.list_steps(job.id)
    assert (setup.id, setup.task, setup.status) == ("setup", "deploy", "error")
    text = log_text(data_dir, job.id, log_key("deploy", "setup"))
    assert "no task 'deploy'" in text


def test_the_worker_reads_the_event_from_the_store_not_the_job(
    store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    spec = (
        "steps:\n  - env: {WHO: '${{ inputs.who }}', BRANCH: '${{ git.branch }}'}\n"
        '    run: echo "by $WHO on $BRANCH"\n'
    )
    repo, sha = make_repo(tmp_path / "repo", {"serverless-pipeline.yaml": spec})
    event = Event(
        provider="manual",
        event_name="manual",
        ref="refs/heads/main",
        branch="main",
        commit=sha,
        inputs={"who": "the store"},
    )
    store.create_run(Run(id="r" * 32, app="web", dedup_key="m1", event=event))
    job = Job(id="r" * 32, app="web", clone_url=f"file://{repo}", ref="refs/heads/main")
    assert Execution(_env(store, data_dir, []), job, owner="w").run().status == "success"
    assert "by the store on main" in log_text(data_dir, job.id, "0")


OLD_JOB = {  # what the previous release queued: the whole event, and a null task
    "id": "",
    "app": "web",
    "event": {
        "provider": "github",
        "event_name": "push",
        "ref": "refs/heads/main",
        "branch": "main",
        "commit": "",
        "payload": {"ref": "refs/heads/main", "commits": [{"message": "x" * 1000}]},
    },
    "clone_url": "",
    "ref": "refs/heads/main",
    "commit": "",
    "pipeline": "serverless-pipeline.yaml",
    "task": None,
    "attempt": 1,
}


def test_a_job_queued_by_the_previous_release_runs_after_the_upgrade(
    store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    repo, sha = make_repo(tmp_path / "repo", {"serverless-pipeline.yaml": SPEC})
    run_id = new_job(store, f"file://{repo}", sha).id
    old = {**OLD_JOB, "id": run_id, "clone_url": f"file://{repo}", "commit": sha}
    old["event"] = {**OLD_JOB["event"], "commit": sha}  # type: ignore[dict-item]
    queue_path = data_dir / "queue.db"
    queue = TaskQueue(queue_path, function_arn="acs:fc:local:0:functions/scd-worker")
    assert queue.enqueue_many([(run_id, json.dumps(old))], time.time()) == [True]
    queue.close()
    succeeded: list[Job] = []

    def on_success(job: Job, result: InvocationResult) -> None:
        succeeded.append(job)

    with worker_process(data_dir) as worker:
        invoker = LocalInvoker(queue_path, [worker.url], on_success=on_success)
        invoker.start()
        try:
            deadline = time.monotonic() + 60
            while store.get_run(run_id).status not in ("success", "failure", "error"):
                assert time.monotonic() < deadline, "the old job never ran"
                time.sleep(0.1)
            while not succeeded and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            invoker.close()
    assert store.get_run(run_id).status == "success"
    assert "hello from the task" in log_text(data_dir, run_id, "hello")
    assert [(job.id, job.task) for job in succeeded] == [(run_id, "default")]

