"""``scd serve --redis``: the trigger queues jobs on a Redis Stream and ``scd worker``
processes run them; webhooks, logs and cancel work as with the local queue."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import GitRepo, ScdServer, children, cmdline, wait_gone
from redisutil import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScdServer]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    with RedisServer(tmp_path_factory.mktemp("redis")) as redis:
        url = f"{redis.url}?stream=serve-e2e"
        scd = ScdServer(tmp_path_factory.mktemp("scd"), extra_args=["--redis", url])
        scd.start()
        try:
            yield scd
        finally:
            scd.stop()
            scd.client.close()


def test_a_pushed_commit_runs_on_a_redis_worker_to_success(
    server: ScdServer, repo: GitRepo
) -> None:
    push = repo.commit("steps:\n  - run: echo from-a-redis-worker\n")
    run = server.wait_run(server.push(push))
    assert run["status"] == "success", run
    assert server.log_of(run["id"], "0") == "from-a-redis-worker\n"
    assert "scd worker --redis" in server.output()  # the banner names the workers


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


def test_a_stopped_server_leaves_no_worker_behind(tmp_path: Path, repo: GitRepo) -> None:
    with RedisServer(tmp_path / "redis") as redis:
        scd = ScdServer(tmp_path / "scd", extra_args=["--redis", redis.url], grace_s=2)
        scd.start()
        try:
            run = scd.wait_run(scd.push(repo.commit("steps:\n  - run: 'true'\n")))
            assert run["status"] == "success"
            assert scd.proc is not None
            workers = [
                p for p in children(scd.proc.pid) if "functions.commands.worker" in cmdline(p)
            ]
            assert len(workers) == 2
        finally:
            assert scd.stop() == 0
            scd.client.close()
        assert "scd serve: stopped" in scd.output()
        assert wait_gone(workers, 30) == []
