"""A pull request from a fork runs without the app's secrets unless the app trusts forks
or a person approved the run (the red-team printed secrets from a fork's pipeline)."""

from __future__ import annotations

import secrets as random
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import pipeline_repo
from scd_core.models import Event, Job, Run
from scd_core.store import RunStore
from scd_core.stores import open_store
from test_worker_support import WorkerProcess, log_text

SECRET = "fork-visible-secret-6620"
SPEC = (
    "steps:\n  - id: leak\n    run: |\n"
    '      echo "secret=[${{ secrets.DEPLOY }}] sts=[${{ sts.accessKeyId }}]"\n'
)


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


@pytest.fixture
def worker(data_dir: Path, store: RunStore) -> Iterator[WorkerProcess]:
    process = WorkerProcess(data_dir, env={"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-fork-sts-key"})
    yield process
    process.stop()


def _configure(data_dir: Path, repo: Path, forks: str) -> None:
    (data_dir / "scd.yaml").write_text(
        f"apps:\n  - name: web\n    repo: file://{repo}\n    insecure_no_secret: true\n"
        f"    secrets: {{DEPLOY: {SECRET}}}\n{forks}",
        encoding="utf-8",
    )


def _pull_request_run(store: RunStore, sha: str, *, fork: bool, approved_by: str | None) -> Job:
    run_id = random.token_hex(16)
    event = Event(
        provider="github", event_name="pull_request", action="opened", ref="refs/heads/main",
        commit=sha, pr_number=7, fork=fork,
    )  # fmt: skip
    run = Run(id=run_id, app="web", dedup_key=run_id, event=event, approved_by=approved_by)
    store.create_run(run)
    return Job(id=run_id, app="web")


@pytest.mark.parametrize(
    ("fork", "forks", "approved_by", "gets_secrets"),
    [
        (True, "", None, False),
        (True, "    forks: {approve: true}\n", None, False),
        (True, "    forks: {approve: true}\n", "maintainer", True),
        (True, "    forks: {secrets: true}\n", None, True),
        (False, "", None, True),
    ],
    ids=["fork", "fork-awaiting-approval", "fork-approved", "trusted-forks", "same-repo"],
)
def test_a_forks_pull_request_gets_no_secrets_unless_trusted_or_approved(
    worker: WorkerProcess,
    store: RunStore,
    data_dir: Path,
    tmp_path: Path,
    fork: bool,
    forks: str,
    approved_by: str | None,
    gets_secrets: bool,
) -> None:
    repo, sha = pipeline_repo(tmp_path / "repo", SPEC)
    _configure(data_dir, repo, forks)
    job = _pull_request_run(store, sha, fork=fork, approved_by=approved_by)
    assert worker.invoke(job).json()["status"] == "success"
    log = log_text(data_dir, job.id, "leak")
    setup = log_text(data_dir, job.id, "setup")
    assert SECRET not in log
    assert "LTAI-fork-sts-key" not in log
    if gets_secrets:
        assert "secret=[***] sts=[***]" in log
        assert "comes from a fork" not in setup
    else:
        assert "secret=[] sts=[]" in log
        assert "this pull request comes from a fork, so its run gets no secrets" in setup
