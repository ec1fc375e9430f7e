"""``scd serve`` end to end: a real server process, real git, signed webhooks over loopback."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    GitRepo,
    ScdServer,
    children,
    cmdline,
    kill_group,
    wait_for_file,
    wait_gone,
    worker_of,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_a_pushed_commit_runs_to_success_and_its_logs_hold_the_output(
    server: ScdServer, repo: GitRepo
) -> None:
    push = repo.commit(
        "steps:\n  - run: echo first-step-output\n  - id: second\n    run: git rev-parse HEAD\n"
    )
    run_id = server.push(push)
    run = server.wait_run(run_id)
    assert run["status"] == "success", run
    assert run["event"] == "push"
    assert run["commit"] == push.after
    assert [s["status"] for s in run["steps"]] == ["success", "success", "success"]
    assert server.log_of(run_id, "0") == "first-step-output\n"
    assert server.log_of(run_id, "second") == f"{push.after}\n"
    assert f"Checked out {push.after}" in server.log_of(run_id, "setup")


def test_a_failing_step_ends_the_run_failure(server: ScdServer, repo: GitRepo) -> None:
    push = repo.commit("steps:\n  - run: echo about to fail; exit 3\n  - run: echo never\n")
    run = server.wait_run(server.push(push))
    assert run["status"] == "failure"
    by_id = {s["id"]: s for s in run["steps"]}
    assert by_id["0"]["conclusion"] == "failure"
    assert by_id["1"]["status"] != "success"
    assert "about to fail" in server.log_of(run["id"], "0")


def test_an_invalid_pipeline_ends_error_with_file_line_column_in_the_setup_log(
    server: ScdServer, repo: GitRepo
) -> None:
    push = repo.commit("steps:\n  - run: echo hi\n    timeout-minutes: soon\n")
    run = server.wait_run(server.push(push))
    assert run["status"] == "error"
    setup_log = server.log_of(run["id"], "setup")
    assert re.search(r"serverless-pipeline\.yaml:3:\d+: error: ", setup_log), setup_log


def test_a_duplicate_delivery_starts_one_run(
    server: ScdServer, repo: GitRepo, tmp_path: Path
) -> None:
    marks = tmp_path / "ran.txt"
    push = repo.commit(f"steps:\n  - run: echo ran >> {marks}\n")
    first = server.post_push(push, delivery="e2e-dup-delivery-1")
    again = server.post_push(push, delivery="e2e-dup-delivery-1")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {"run_id": first.json()["run_id"], "duplicate": True}
    run = server.wait_run(first.json()["run_id"])
    assert run["status"] == "success"
    assert marks.read_text() == "ran\n"


def test_cancelling_a_sleeping_step_through_the_api_ends_the_run_cancelled(
    server: ScdServer, repo: GitRepo
) -> None:
    push = repo.commit("steps:\n  - id: nap\n    run: sleep 60\n  - run: echo after\n")
    run_id = server.push(push)

    def napping(run: dict[str, Any]) -> bool:
        return any(s["id"] == "nap" and s["status"] == "running" for s in run["steps"])

    server.wait_run(run_id, until=napping)
    answer = server.client.post(f"/api/v1/runs/{run_id}/cancel", headers=server.auth)
    assert answer.status_code == 202
    run = server.wait_run(run_id, timeout_s=30)
    assert run["status"] == "cancelled"
    assert {s["id"]: s["status"] for s in run["steps"]}["nap"] == "cancelled"


def test_cancelling_a_finished_run_is_refused(server: ScdServer, repo: GitRepo) -> None:
    run = server.wait_run(server.push(repo.commit("steps:\n  - run: 'true'\n")))
    answer = server.client.post(f"/api/v1/runs/{run['id']}/cancel", headers=server.auth)
    assert answer.status_code == 409


def settled(run: dict[str, Any]) -> bool:
    """The run ended and none of its steps is still open."""
    open_steps = [s for s in run["steps"] if s["status"] in ("running", "pending")]
    return run["status"] in ("success", "failure", "cancelled", "error") and not open_steps


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="walks /proc to find the worker")
def test_a_worker_killed_mid_run_ends_the_run_error_worker_lost_and_is_replaced(
    server: ScdServer, repo: GitRepo, tmp_path: Path
) -> None:
    pid_file = tmp_path / "step.pid"
    push = repo.commit(f"steps:\n  - run: echo $$ > {pid_file}; echo started; sleep 30\n")
    run_id = server.push(push)
    step_pid = int(wait_for_file(pid_file))
    try:
        os.kill(worker_of(step_pid), signal.SIGKILL)
        run = server.wait_run(run_id, until=settled, timeout_s=60)
    finally:
        kill_group(step_pid)  # the orphaned step of the killed worker
    assert run["status"] == "error"
    assert "worker lost" in run["message"]
    assert all(s["status"] not in ("running", "pending") for s in run["steps"])
    assert "started" in server.log_of(run_id, "0")
    after = server.wait_run(server.push(repo.commit("steps:\n  - run: echo still serving\n")))
    assert after["status"] == "success"


def test_runs_queued_when_serve_stops_run_once_each_after_a_restart(
    tmp_path: Path, repo: GitRepo
) -> None:
    marks = tmp_path / "ran.txt"
    scd = ScdServer(tmp_path / "scd", workers=1, grace_s=20)
    pipeline = f"steps:\n  - run: git rev-parse HEAD >> {marks}; sleep 1\n"
    scd.start()
    try:
        pushes = [repo.commit(pipeline) for _ in range(3)]
        first = scd.push(pushes[0])
        scd.wait_run(first, until=lambda run: run["status"] == "running")
        queued = [scd.push(push) for push in pushes[1:]]
        assert [scd.run(run_id)["status"] for run_id in queued] == ["queued", "queued"]
        assert scd.stop() == 0
        scd.start()
        runs = [scd.wait_run(run_id) for run_id in [first, *queued]]
    finally:
        scd.stop()
        scd.client.close()
    assert [run["status"] for run in runs] == ["success"] * 3
    assert sorted(marks.read_text().split()) == sorted(push.after for push in pushes)


def test_a_step_still_running_after_the_grace_period_is_cancelled_and_recorded(
    tmp_path: Path, repo: GitRepo
) -> None:
    from scd_core.stores import open_store

    scd = ScdServer(tmp_path / "scd", workers=1, grace_s=0.5)
    scd.start()
    try:
        run_id = scd.push(repo.commit("steps:\n  - id: long\n    run: sleep 60\n"))
        scd.wait_run(run_id, until=lambda run: run["status"] == "running")
        assert scd.stop() == 0
    finally:
        scd.stop()
        scd.client.close()
    store = open_store(f"sqlite:///{scd.data_dir / 'scd.db'}")
    try:
        run = store.get_run(run_id)
        steps = {s.id: s.status for s in store.list_steps(run_id)}
    finally:
        store.close()
    assert run.status == "cancelled"
    assert steps["long"] == "cancelled"
    assert "grace period over; cancelling 1 running run(s)" in scd.output()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_when_serve_is_killed_its_workers_interrupt_their_runs_and_exit(
    tmp_path: Path, repo: GitRepo
) -> None:
    from scd_core.stores import open_store

    pid_file = tmp_path / "step.pid"
    scd = ScdServer(tmp_path / "scd", workers=2)
    scd.start()
    assert scd.proc is not None
    workers = [pid for pid in children(scd.proc.pid) if "functions.serve.child" in cmdline(pid)]
    assert len(workers) == 2
    run_id = scd.push(repo.commit(f"steps:\n  - run: echo $$ > {pid_file}; sleep 30\n"))
    step_pid = int(wait_for_file(pid_file))
    scd.proc.kill()
    scd.proc.wait()
    scd.client.close()
    alive = wait_gone(workers, timeout_s=30)
    for pid in alive:  # do not leak them if the check fails
        os.kill(pid, signal.SIGKILL)
    kill_group(step_pid)
    assert alive == []
    store = open_store(f"sqlite:///{scd.data_dir / 'scd.db'}")
    try:
        run = store.get_run(run_id)
    finally:
        store.close()
    assert (run.status, run.message) == ("error", "worker interrupted")


def test_the_banner_names_the_dashboard_and_how_to_log_in(server: ScdServer) -> None:
    banner = server.output()
    assert f"dashboard {server.url}/ui/" in banner
    assert "log in    with a token of scd.yaml's tokens" in banner
    assert "scd login" in banner
    answer = server.client.get("/", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/ui/"
