"""The worker function over real HTTP: uvicorn in a subprocess, a SQLite store, real git repos."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from factories import commit, pipeline_repo
from scd_core.store import RunStore
from scd_core.stores import open_store
from test_worker_support import GitHttp, WorkerProcess, git, log_text, new_job, worker_process

from functions.worker.heartbeat import lease_key

ENV_SECRET = "env-secret-value-7f3a9c"
PLATFORM_KEY = "LTAI-fake-platform-key-5e2d"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("worker") / "data"


@pytest.fixture(scope="module")
def worker(data_dir: Path) -> Iterator[WorkerProcess]:
    env = {
        "SCD_SECRET_API_KEY": ENV_SECRET,
        "ALIBABA_CLOUD_ACCESS_KEY_ID": PLATFORM_KEY,
        "FC_REGION": "cn-hangzhou",
        "SCD_LEASE_TTL_SECONDS": "3",
    }
    with worker_process(data_dir, env) as process:
        yield process


@pytest.fixture
def store(worker: WorkerProcess, data_dir: Path) -> Iterator[RunStore]:
    opened = open_store(f"sqlite:///{data_dir / 'scd.db'}")
    yield opened
    opened.close()


def test_a_passing_pipeline_succeeds_with_its_output_in_the_log(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    repo, sha = pipeline_repo(
        tmp_path / "repo", "steps:\n  - id: hello\n    run: echo hello-from-step\n"
    )
    job = new_job(store, f"file://{repo}", sha)
    response = worker.invoke(job)
    assert response.status_code == 200
    assert response.json() == {"run_id": job.id, "status": "success"}
    run = store.get_run(job.id)
    assert run.status == "success"
    assert run.started_at is not None
    assert run.finished_at is not None
    assert "hello-from-step" in log_text(data_dir, job.id, "hello")
    assert f"Checked out {sha}" in log_text(data_dir, job.id, "setup")
    steps = {step.id: step for step in store.list_steps(job.id)}
    assert steps["setup"].index == -1
    assert steps["setup"].status == "success"
    assert steps["hello"].index == 0
    assert steps["hello"].status == "success"
    assert not (data_dir / "work" / job.id).exists()  # the workspace is cleaned up


def test_a_failing_step_ends_the_run_failure_and_still_answers_200(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    spec = "steps:\n  - id: broken\n    run: echo about-to-fail; exit 3\n  - run: echo never\n"
    repo, sha = pipeline_repo(tmp_path / "repo", spec)
    job = new_job(store, f"file://{repo}", sha)
    response = worker.invoke(job)
    assert response.status_code == 200
    assert response.json()["status"] == "failure"
    assert store.get_run(job.id).status == "failure"
    assert "about-to-fail" in log_text(data_dir, job.id, "broken")


def test_an_invalid_pipeline_ends_error_with_file_line_column_in_the_setup_log(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    spec = "steps:\n  - id: ok\n    run: echo hi\n  - id: bad\n    runs: echo typo\n"
    repo, sha = pipeline_repo(tmp_path / "repo", spec)
    job = new_job(store, f"file://{repo}", sha)
    response = worker.invoke(job)
    assert response.status_code == 200
    assert response.json()["status"] == "error"
    run = store.get_run(job.id)
    assert run.status == "error"
    assert run.message is not None
    assert "invalid pipeline" in run.message
    setup_log = log_text(data_dir, job.id, "setup")
    assert "serverless-pipeline.yaml:5:5: error:" in setup_log
    setup = next(step for step in store.list_steps(job.id) if step.id == "setup")
    assert setup.status == "error"


def test_the_jobs_commit_is_run_not_the_branch_tip(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    spec = "steps:\n  - id: show\n    run: cat version.txt; git rev-parse HEAD\n"
    repo, first = pipeline_repo(tmp_path / "repo", spec, {"version.txt": "version-one\n"})
    commit(repo, {"version.txt": "version-two\n"}, "second")
    job = new_job(store, f"file://{repo}", first)
    assert worker.invoke(job).json()["status"] == "success"
    text = log_text(data_dir, job.id, "show")
    assert "version-one" in text
    assert "version-two" not in text
    assert first in text


def test_a_run_of_a_ref_records_the_commit_its_checkout_resolved(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    repo, tip = pipeline_repo(tmp_path / "repo", "steps:\n  - id: hello\n    run: echo hi\n")
    job = new_job(store, f"file://{repo}", None)  # a manual run names only its ref
    assert store.get_run(job.id).event.commit is None
    assert worker.invoke(job).json()["status"] == "success"
    assert store.get_run(job.id).event.commit == tip
    assert f"Checked out {tip}" in log_text(data_dir, job.id, "setup")


def test_a_checkout_failure_ends_the_run_error_with_gits_message(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    job = new_job(store, f"file://{tmp_path}/no-such-repo", "b" * 40)
    response = worker.invoke(job)
    assert response.json()["status"] == "error"
    run = store.get_run(job.id)
    assert run.message is not None
    assert run.message.startswith("checkout failed: git fetch failed")
    assert "does not appear to be a git repository" in log_text(data_dir, job.id, "setup")


def test_cancel_stops_a_sleeping_step_and_ends_the_run_cancelled(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "sleep.pid"
    spec = f"steps:\n  - id: nap\n    run: echo $$ > {pid_file}; exec sleep 60\n"
    repo, sha = pipeline_repo(tmp_path / "repo", spec)
    job = new_job(store, f"file://{repo}", sha)
    answers: list[httpx.Response] = []
    caller = threading.Thread(target=lambda: answers.append(worker.invoke(job)))
    caller.start()
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    store.request_control(job.id, "cancel")
    caller.join(60)
    assert answers
    assert answers[0].status_code == 200
    assert answers[0].json()["status"] == "cancelled"
    assert store.get_run(job.id).status == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_duplicate_delivery_of_a_finished_run_is_skipped_not_rerun(
    worker: WorkerProcess, store: RunStore, tmp_path: Path
) -> None:
    counter = tmp_path / "count.txt"
    repo, sha = pipeline_repo(tmp_path / "repo", f"steps:\n  - run: echo ran >> {counter}\n")
    job = new_job(store, f"file://{repo}", sha)
    assert worker.invoke(job, "req-a").json()["status"] == "success"
    again = worker.invoke(job, "req-b")
    assert again.status_code == 200
    assert again.json() == {"run_id": job.id, "skipped": "run already success"}
    assert counter.read_text() == "ran\n"


def test_a_run_leased_by_another_live_worker_is_skipped(
    worker: WorkerProcess, store: RunStore, tmp_path: Path
) -> None:
    repo, sha = pipeline_repo(tmp_path / "repo", "steps:\n  - run: echo hi\n")
    job = new_job(store, f"file://{repo}", sha)
    assert store.acquire_lease(lease_key(job.id), "another-worker", 60)
    response = worker.invoke(job)
    assert response.json() == {"run_id": job.id, "skipped": "run is being run by another worker"}
    assert store.get_run(job.id).status == "queued"


def test_secrets_from_the_environment_are_masked_and_platform_credentials_hidden(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    spec = (
        "steps:\n"
        "  - id: leak\n"
        "    run: |\n"
        '      echo "secret=${{ secrets.API_KEY }}"\n'
        '      echo "platform=${ALIBABA_CLOUD_ACCESS_KEY_ID:-absent} region=${FC_REGION:-absent}"\n'
        "      env | grep -c SCD_SECRET_ || true\n"
    )
    repo, sha = pipeline_repo(tmp_path / "repo", spec)
    job = new_job(store, f"file://{repo}", sha)
    assert worker.invoke(job).json()["status"] == "success"
    text = log_text(data_dir, job.id, "leak")
    assert "secret=***" in text
    assert ENV_SECRET not in text
    assert "platform=absent region=absent" in text
    assert PLATFORM_KEY not in text
    assert text.splitlines()[-1] == "0"  # SCD_SECRET_* variables do not reach steps
    assert ENV_SECRET not in store.get_run(job.id).model_dump_json()


def test_an_app_registered_through_the_api_gives_the_worker_its_secrets(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    api_secret = "api-app-secret-value-91c4"
    spec = 'steps:\n  - id: deploy\n    run: echo "key=${{ secrets.DEPLOY_KEY }}"\n'
    repo, sha = pipeline_repo(tmp_path / "repo", spec)
    store.put_app(
        "api-app",
        {
            "name": "api-app",
            "repo": f"file://{repo}",
            "secret": "webhook-secret",
            "secrets": {"DEPLOY_KEY": api_secret},
        },
    )
    job = new_job(store, f"file://{repo}", sha, app="api-app")
    assert worker.invoke(job).json()["status"] == "success"
    text = log_text(data_dir, job.id, "deploy")
    assert "key=***" in text
    assert api_secret not in text


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 1}',
        b"not json",
        b'{"id": "../../etc", "app": "web", "event": {"provider": "x", "event_name": "manual"}}',
    ],
)
def test_a_malformed_job_is_a_function_error_without_a_traceback(
    worker: WorkerProcess, body: bytes
) -> None:
    response = httpx.post(f"{worker.url}/invoke", content=body, timeout=10)
    assert response.status_code == 400
    assert response.headers["x-fc-status"] == "404"
    assert "Traceback" not in response.text


def test_an_unknown_run_is_skipped(worker: WorkerProcess, store: RunStore, tmp_path: Path) -> None:
    job = new_job(store, f"file://{tmp_path}", "c" * 40)
    orphan = job.model_copy(update={"id": "f" * 32})
    assert worker.invoke(orphan).json() == {"run_id": "f" * 32, "skipped": "no such run"}


def test_a_crash_of_the_worker_answers_500_with_fc_status_404_and_ends_the_run_error(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    repo, sha = pipeline_repo(tmp_path / "repo", "steps:\n  - run: echo hi\n")
    job = new_job(store, f"file://{repo}", sha)
    (data_dir / "logs" / job.id).write_text("a file where the run's log directory goes\n")
    response = worker.invoke(job)
    assert response.status_code == 500
    assert response.headers["x-fc-status"] == "404"
    assert response.json()["error"].startswith("worker crashed: ")
    assert "Traceback" not in response.text
    run = store.get_run(job.id)
    assert run.status == "error"
    assert run.message is not None
    assert run.message.startswith("worker crashed: ")
    assert store.acquire_lease(lease_key(job.id), "someone-else", 5)  # the lease was released


def test_an_apps_config_gives_secrets_a_checkout_token_and_platform_env_to_its_runs(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    token, deploy_key = "ghp_configtoken9876543210", "config-secret-value-41c2"
    spec = (
        "steps:\n"
        "  - id: use\n"
        "    run: |\n"
        '      echo "deploy=${{ secrets.DEPLOY_KEY }} env=${{ secrets.API_KEY }}"\n'
        '      echo "platform=${ALIBABA_CLOUD_ACCESS_KEY_ID:-absent}"\n'
        '      [ "$ALIBABA_CLOUD_ACCESS_KEY_ID" = "${{ sts.accessKeyId }}" ] && echo same-as-sts\n'
        "      cat .git/config\n"
    )
    repo, sha = pipeline_repo(tmp_path / "repo", spec)
    served = tmp_path / "served"
    served.mkdir()
    git("clone", "--quiet", "--bare", str(repo), str(served / "private.git"))
    try:
        with GitHttp(served, token=token) as server:
            config = (
                "apps:\n"
                "  - name: private\n"
                f"    repo: {server.url}/private.git\n"
                "    insecure_no_secret: true\n"
                f"    checkout_token: {token}\n"
                f"    secrets: {{DEPLOY_KEY: {deploy_key}}}\n"
                "    allow_platform_env: true\n"
            )
            (data_dir / "scd.yaml").write_text(config, encoding="utf-8")
            job = new_job(store, f"{server.url}/private.git", sha, app="private")
            response = worker.invoke(job)
    finally:
        (data_dir / "scd.yaml").unlink()
    assert response.json()["status"] == "success"
    text = log_text(data_dir, job.id, "use") + log_text(data_dir, job.id, "setup")
    assert "deploy=*** env=***" in text
    # the app allows it; the value is the sts context's, masked like every credential
    assert "platform=***" in text
    assert "same-as-sts" in text
    assert PLATFORM_KEY not in text
    for secret in (token, deploy_key, ENV_SECRET):
        assert secret not in text
    assert '[remote "origin"]' in text


def test_a_checkout_token_in_gits_failure_message_is_masked_in_the_log_and_the_run(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    token = "glpat-leaky-token-3141592653"
    config = (
        f"apps:\n  - name: leaky\n    repo: file://{tmp_path}/{token}/repo.git\n"
        f"    insecure_no_secret: true\n    checkout_token: {token}\n"
    )
    (data_dir / "scd.yaml").write_text(config, encoding="utf-8")
    try:
        # git quotes the path it could not open, so the token reaches git's message.
        job = new_job(store, f"file://{tmp_path}/{token}/repo.git", "d" * 40, app="leaky")
        response = worker.invoke(job)
    finally:
        (data_dir / "scd.yaml").unlink()
    assert response.json()["status"] == "error"
    setup_log = log_text(data_dir, job.id, "setup")
    assert "does not appear to be a git repository" in setup_log
    assert "/***/repo.git" in setup_log
    assert token not in setup_log
    assert token not in (store.get_run(job.id).message or "")
    assert token not in response.text


def test_a_cancel_requested_before_the_job_starts_runs_no_step(
    worker: WorkerProcess, store: RunStore, tmp_path: Path
) -> None:
    marker = tmp_path / "ran.txt"
    repo, sha = pipeline_repo(tmp_path / "repo", f"steps:\n  - run: touch {marker}\n")
    job = new_job(store, f"file://{repo}", sha)
    store.request_control(job.id, "cancel")
    assert worker.invoke(job).json() == {"run_id": job.id, "status": "cancelled"}
    assert store.get_run(job.id).status == "cancelled"
    assert not marker.exists()


def test_a_step_may_not_take_the_set_up_steps_id(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    repo, sha = pipeline_repo(
        tmp_path / "repo", "steps:\n  - run: echo a\n  - id: setup\n    run: echo b\n"
    )
    job = new_job(store, f"file://{repo}", sha)
    assert worker.invoke(job).json()["status"] == "error"
    assert "serverless-pipeline.yaml:3:5: error: step id 'setup' is reserved" in log_text(
        data_dir, job.id, "setup"
    )


def test_a_duplicate_delivery_while_the_run_is_running_is_skipped(
    worker: WorkerProcess, store: RunStore, tmp_path: Path
) -> None:
    pid_file = tmp_path / "sleep.pid"
    repo, sha = pipeline_repo(
        tmp_path / "repo", f"steps:\n  - run: echo $$ > {pid_file}; exec sleep 60\n"
    )
    job = new_job(store, f"file://{repo}", sha)
    answers: list[httpx.Response] = []
    caller = threading.Thread(target=lambda: answers.append(worker.invoke(job, "req-first")))
    caller.start()
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    second = worker.invoke(job, "req-second")
    store.request_control(job.id, "cancel")
    caller.join(60)
    assert second.json() == {"run_id": job.id, "skipped": "run is being run by another worker"}
    assert answers[0].json() == {"run_id": job.id, "status": "cancelled"}
    assert store.get_run(job.id).attempt == 1


def test_config_variables_unset_on_the_worker_drop_those_secrets_with_a_warning(
    worker: WorkerProcess, store: RunStore, data_dir: Path, tmp_path: Path
) -> None:
    spec = 'steps:\n  - id: show\n    run: echo "deploy=[${{ secrets.DEPLOY }}]"\n'
    repo, sha = pipeline_repo(tmp_path / "repo", spec)
    config = (
        f"apps:\n  - name: split\n    repo: file://{repo}\n"
        "    secret: ${env:WEBHOOK_SECRET_ONLY_ON_THE_TRIGGER}\n"
        "    secrets: {DEPLOY: '${env:DEPLOY_KEY_NOT_ON_THIS_WORKER}'}\n"
    )
    (data_dir / "scd.yaml").write_text(config, encoding="utf-8")
    try:
        job = new_job(store, f"file://{repo}", sha, app="split")
        response = worker.invoke(job)
    finally:
        (data_dir / "scd.yaml").unlink()
    assert response.json()["status"] == "success"
    assert "warning: secret DEPLOY is not set where the worker runs" in log_text(
        data_dir, job.id, "setup"
    )
    assert "deploy=[]" in log_text(data_dir, job.id, "show")
