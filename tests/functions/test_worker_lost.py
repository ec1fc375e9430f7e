"""A worker that dies (kill -9) or is told to stop (pre-stop) leaves no run stuck in `running`."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from factories import make_repo
from scd_core.sinks.file import FileLogSink
from scd_core.store import RunStore
from scd_core.stores import open_store
from test_worker_support import WorkerProcess, log_text, new_job, worker_process

from functions.worker.lost import end_lost_runs


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path) -> Iterator[RunStore]:
    data_dir.mkdir(parents=True, exist_ok=True)
    opened = open_store(f"sqlite:///{data_dir / 'scd.db'}")
    yield opened
    opened.close()


def start_sleeping_run(
    worker: WorkerProcess, store: RunStore, tmp_path: Path
) -> tuple[str, int, list[httpx.Response | Exception]]:
    """Invoke a job whose step prints a line then sleeps; (run id, sleep pid, answers)."""
    pid_file = tmp_path / "sleep.pid"
    spec = (
        "steps:\n  - id: nap\n    run: |\n      echo before-the-end\n"
        f"      echo $$ > {pid_file}\n      exec sleep 60\n"
    )
    repo, sha = make_repo(tmp_path / "repo", {"serverless-pipeline.yaml": spec})
    job = new_job(store, f"file://{repo}", sha)
    answers: list[httpx.Response | Exception] = []

    def call() -> None:
        try:
            answers.append(worker.invoke(job))
        except httpx.TransportError as exc:
            answers.append(exc)

    threading.Thread(target=call, daemon=True).start()
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    return job.id, int(pid_file.read_text()), answers


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_killed_worker_run_ends_error_worker_lost_with_its_log_kept(
    data_dir: Path, store: RunStore, tmp_path: Path
) -> None:
    with worker_process(data_dir, {"SCD_LEASE_TTL_SECONDS": "2"}) as worker:
        run_id, pid, _ = start_sleeping_run(worker, store, tmp_path)
        try:
            sink = FileLogSink(data_dir / "logs")
            assert end_lost_runs(store, sink=sink) == []  # alive: its lease is renewed
            assert store.get_run(run_id).status == "running"
            worker.kill()
            deadline = time.monotonic() + 30
            ended: list[str] = []
            while not ended:
                assert time.monotonic() < deadline, "the lease never expired"
                time.sleep(0.2)
                ended = end_lost_runs(store, sink=sink)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # the orphaned step outlives a kill -9
    assert ended == [run_id]
    run = store.get_run(run_id)
    assert run.status == "error"
    assert run.message == "worker lost"
    assert run.finished_at is not None
    nap = next(step for step in store.list_steps(run_id) if step.id == "nap")
    assert nap.status == "error"
    assert nap.message == "worker lost"
    assert "before-the-end" in log_text(data_dir, run_id, "nap")
    assert sink.read(run_id, "nap", sink.read(run_id, "nap").offset).closed
    assert end_lost_runs(store, sink=sink) == []  # idempotent


def test_pre_stop_ends_the_running_run_error_interrupted_and_stops_its_step(
    data_dir: Path, store: RunStore, tmp_path: Path
) -> None:
    with worker_process(data_dir) as worker:
        run_id, pid, answers = start_sleeping_run(worker, store, tmp_path)
        response = httpx.get(f"{worker.url}/pre-stop", timeout=30)
        assert response.status_code == 200
        assert response.json() == {"interrupted": [run_id]}
        deadline = time.monotonic() + 30
        while not answers:
            assert time.monotonic() < deadline, "the invocation never answered"
            time.sleep(0.05)
    run = store.get_run(run_id)
    assert run.status == "error"
    assert run.message == "worker interrupted"
    assert gone(pid)
    answer = answers[0]
    assert isinstance(answer, httpx.Response)
    assert answer.json() == {"run_id": run_id, "status": "error"}
    assert "before-the-end" in log_text(data_dir, run_id, "nap")
    assert store.acquire_lease(f"run:{run_id}", "someone-else", 5)  # the lease was released
