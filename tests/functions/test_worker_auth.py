"""A worker takes jobs and hooks from its invoker only, and what it checks out from the store.

The red-team's attack: with a run queued, any local process (another app's step
included) posted ``/invoke`` naming that run and another repository; the worker
cloned it and ran its pipeline with the app's secrets. And ``GET /pre-stop``
without credentials ended a running run ``error``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from factories import pipeline_repo
from scd_core.settings import WORKER_TOKEN_HEADER
from scd_core.store import RunStore
from scd_core.stores import open_store
from test_worker_support import WorkerProcess, log_text, new_job

TOKEN = "worker-token-for-tests-5b1f"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data_dir: Path) -> Iterator[RunStore]:
    data_dir.mkdir(parents=True, exist_ok=True)
    opened = open_store(f"sqlite:///{data_dir / 'scd.db'}")
    yield opened
    opened.close()


@pytest.fixture
def worker(data_dir: Path, store: RunStore) -> Iterator[WorkerProcess]:
    process = WorkerProcess(data_dir, token=TOKEN)
    yield process
    process.stop()


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/invoke"), ("POST", "/initialize"), ("GET", "/pre-stop")]
)
@pytest.mark.parametrize("presented", [None, "", "a-guess"])
def test_every_route_refuses_a_caller_without_the_worker_token(
    worker: WorkerProcess, method: str, path: str, presented: str | None
) -> None:
    headers = {} if presented is None else {WORKER_TOKEN_HEADER: presented}
    answer = httpx.request(method, worker.url + path, headers=headers, content=b"{}", timeout=30)
    assert answer.status_code == 401
    assert answer.headers["x-fc-status"] == "404"
    assert TOKEN not in answer.text


def test_a_job_with_the_token_runs(
    worker: WorkerProcess, store: RunStore, tmp_path: Path
) -> None:
    repo, sha = pipeline_repo(tmp_path / "repo", "steps:\n  - run: echo hi\n")
    job = new_job(store, f"file://{repo}", sha)
    assert worker.invoke(job).json()["status"] == "success"


def test_a_job_naming_another_repository_still_checks_out_the_runs_own(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    own, sha = pipeline_repo(tmp_path / "own", "steps:\n  - id: who\n    run: echo own\n")
    evil, _ = pipeline_repo(tmp_path / "evil", "steps:\n  - id: who\n    run: echo evil\n")
    job = new_job(store, f"file://{own}", sha)
    forged = job.model_copy(
        update={"clone_url": f"file://{evil}", "ref": "refs/heads/main", "commit": None}
    )
    assert worker.invoke(forged).json()["status"] == "success"
    assert log_text(data_dir, job.id, "who") == "own\n"


def test_a_job_naming_another_app_than_its_run_is_refused(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    repo, sha = pipeline_repo(tmp_path / "repo", "steps:\n  - run: echo hi\n")
    job = new_job(store, f"file://{repo}", sha, app="web")
    answer = worker.invoke(job.model_copy(update={"app": "other-app-with-secrets"}))
    assert answer.json()["status"] == "error"
    assert "the job names app 'other-app-with-secrets'" in log_text(data_dir, job.id, "setup")
