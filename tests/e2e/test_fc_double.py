"""scd through Function Compute's async invocation, end to end on loopback.

The trigger, the worker and the failure handler run as real uvicorn processes
(``fc_stack``); the trigger's fc invoker signs InvokeFunction requests to the FC
doubles, which deliver each job to the worker and each failure to the handler;
the pipelines run from real git repositories. Figures each test measures are
printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import SECRET, TOKEN, GitRepo, kill_group, wait_for_file
from fc_stack import AWAY, FcStack
from scd_core.invokers.fc import MAX_ASYNC_PAYLOAD, task_id

from functions.serve.demo import push_webhook

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FcStack]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    fc = FcStack(tmp_path_factory.mktemp("fc"))
    try:
        fc.start()
        yield fc
    finally:
        fc.close()


def app_for(stack: FcStack, repo: GitRepo, **extra: Any) -> str:
    """One app per test repository (a job clones its app's repository)."""
    name = "fc-" + hashlib.sha256(str(repo.path).encode()).hexdigest()[:12]
    return stack.register(name, repo.path, **extra)


def test_a_webhook_runs_through_fc_to_success_with_its_logs(stack: FcStack, repo: GitRepo) -> None:
    push = repo.commit("steps:\n  - id: hello\n    run: echo hello from the FC worker\n")
    app = app_for(stack, repo)
    started = time.monotonic()
    run_id = stack.push(app, push)
    run = stack.wait_run(run_id)
    print(f"webhook -> run success through the FC double: {time.monotonic() - started:.2f} s")
    assert run["status"] == "success", stack.output()
    assert "hello from the FC worker" in stack.log_of(run_id, "hello")
    task = stack.home.task(task_id(run_id))
    assert task is not None
    assert task["status"] == "Succeeded"
    assert [t["status"] for t in run["tasks"]] == ["success"]


def test_a_redelivered_webhook_makes_one_run_and_one_fc_task(stack: FcStack, repo: GitRepo) -> None:
    app = app_for(stack, repo)
    body, headers = push_webhook(repo.commit("steps:\n  - run: 'true'\n"), SECRET)
    first = stack.post(app, body, headers)
    again = stack.post(app, body, headers)
    assert first.status_code == 202, first.text
    assert again.json()["run_id"] == first.json()["run_id"]
    run_id = first.json()["run_id"]
    stack.wait_run(run_id)
    mine = [t for t in stack.home.task_ids() + stack.away.task_ids() if run_id in t]
    assert mine == [task_id(run_id)]
    assert len(stack.run(run_id)["tasks"]) == 1


def test_cancel_stops_the_running_step_and_the_run_ends_cancelled(
    stack: FcStack, repo: GitRepo
) -> None:
    app = app_for(stack, repo)
    run_id = stack.push(app, repo.commit("steps:\n  - id: nap\n    run: sleep 120\n"))

    def napping(run: dict[str, Any]) -> bool:
        return any(s["id"] == "nap" and s["status"] == "running" for s in run["steps"])

    stack.wait_run(run_id, until=napping)
    asked = time.monotonic()
    answer = stack.client.post(f"/api/v1/runs/{run_id}/cancel")
    assert answer.status_code == 202, answer.text

    def nap_ended(run: dict[str, Any]) -> bool:
        return any(s["id"] == "nap" and s["status"] != "running" for s in run["steps"])

    stack.wait_run(run_id, until=nap_ended, timeout_s=60)
    print(f"cancel -> step stopped, through the FC double: {time.monotonic() - asked:.2f} s")
    run = stack.wait_run(run_id, timeout_s=60)
    assert run["status"] == "cancelled"
    assert {s["id"]: s["status"] for s in run["steps"]}["nap"] == "cancelled"
    # the worker ended it, so FC's task ends as a success, not cut by StopAsyncTask
    assert stack.home.wait(task_id(run_id), timeout_s=60) == "Succeeded"


def test_a_1_mb_webhook_starts_its_run_with_a_small_job(stack: FcStack, repo: GitRepo) -> None:
    app = app_for(stack, repo)
    body, headers = push_webhook(repo.commit("steps:\n  - run: echo big\n"), SECRET)
    payload = json.loads(body)
    payload["head_commit"]["message"] += "\n" + "x" * (1024 * 1024)
    big = json.dumps(payload).encode()
    headers = _resigned(big, headers)
    answer = stack.post(app, big, headers)
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run_id"]
    assert stack.wait_run(run_id)["status"] == "success"
    task = stack.home.task(task_id(run_id))
    assert task is not None
    job_bytes = len(task["taskPayload"].encode())
    print(f"1 MB webhook -> job of {job_bytes} bytes")
    assert job_bytes < MAX_ASYNC_PAYLOAD


def test_an_app_s_worker_region_gets_its_jobs_and_the_run_shows_it(
    stack: FcStack, repo: GitRepo
) -> None:
    app = app_for(stack, repo, worker={"region": AWAY})
    run_id = stack.push(app, repo.commit("steps:\n  - run: echo far away\n"))
    run = stack.wait_run(run_id)
    assert run["status"] == "success"
    assert stack.away.task(task_id(run_id)) is not None
    assert stack.home.task(task_id(run_id)) is None
    assert [t["region"] for t in run["tasks"]] == [AWAY]
    page = dashboard_page(stack, f"/ui/runs/{run_id}")
    assert f'<dd id="run-region">{AWAY}</dd>' in page


def dashboard_page(stack: FcStack, path: str) -> str:
    """``path`` of the dashboard, after logging in with the admin token."""
    assert stack.trigger is not None
    with httpx.Client(base_url=stack.trigger.url, timeout=30) as browser:
        login = browser.get("/ui/login").text
        found = re.search(r'name="csrf" value="([^"]*)"', login)
        assert found, "no csrf field on the login page"
        form = {"token": TOKEN, "csrf": found.group(1), "next": "/ui/"}
        assert browser.post("/ui/login", data=form).status_code == 303
        answer = browser.get(path)
        assert answer.status_code == 200, answer.text
        return answer.text


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="kills the worker process by pid")
def test_a_worker_killed_mid_run_ends_the_run_error_through_fc_s_destination(
    stack: FcStack, repo: GitRepo, tmp_path: Path
) -> None:
    app = app_for(stack, repo)
    pid_file = tmp_path / "step.pid"
    run_id = stack.push(app, repo.commit(f"steps:\n  - run: echo $$ > {pid_file}; sleep 120\n"))
    step_pid = int(wait_for_file(pid_file))
    try:
        killed = time.monotonic()
        stack.worker.kill()
        run = stack.wait_run(run_id, timeout_s=60)
        print(f"worker killed -> run error via the destination: {time.monotonic() - killed:.2f} s")
    finally:
        kill_group(step_pid)  # the orphaned step of the killed instance
        stack.worker.start()  # FC would start a fresh instance for the next job
    assert run["status"] == "error"
    assert run["message"].startswith("instance crashed"), run["message"]
    assert stack.home.wait(task_id(run_id)) == "Failed"
    [record] = [d for d in stack.home.destinations if run_id in d["requestPayload"]]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    after = stack.wait_run(stack.push(app, repo.commit("steps:\n  - run: echo again\n")))
    assert after["status"] == "success"


def _resigned(body: bytes, headers: dict[str, str]) -> dict[str, str]:
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {**headers, "x-hub-signature-256": f"sha256={signature}"}
