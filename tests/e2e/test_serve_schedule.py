"""``scd serve`` (two worker processes) fires the schedules of apps registered through the API:
once per fire time, across a restart, and following changes and deletions without one."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from e2e_support import SECRET, GitRepo, ScdServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

PIPELINE = "steps:\n  - run: echo scheduled run of $(git rev-parse --short HEAD)\n"


def once_at(moment: datetime) -> str:
    """A cron that fires at ``moment`` (to the second) and not again this year."""
    return f"{moment.second} {moment.minute} {moment.hour} {moment.day} {moment.month} *"


def register(server: ScdServer, name: str, repo: GitRepo, crons: list[str]) -> None:
    spec = {
        "repo": repo.path.resolve().as_uri(),
        "secret": SECRET,
        "trigger": {"schedule": [{"cron": cron, "ref": "main"} for cron in crons]},
    }
    answer = server.client.put(f"/api/v1/apps/{name}", json=spec, headers=server.auth)
    assert answer.status_code in (200, 201), answer.text


def runs_of(server: ScdServer, name: str) -> list[dict[str, Any]]:
    answer = server.client.get("/api/v1/runs", params={"app": name}, headers=server.auth)
    assert answer.status_code == 200, answer.text
    runs: list[dict[str, Any]] = answer.json()["runs"]
    return runs


def wait_until(moment: datetime) -> None:
    time.sleep(max((moment - datetime.now(timezone.utc)).total_seconds(), 0.0))


def wait_runs(server: ScdServer, name: str, count: int, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(runs_of(server, name)) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{name}: fewer than {count} runs:\n{server.output()[-4000:]}")
        time.sleep(0.2)


def test_an_app_registered_through_the_api_fires_its_schedule_exactly_once(
    server: ScdServer, repo: GitRepo
) -> None:
    repo.commit(PIPELINE)
    name = f"nightly-{uuid.uuid4().hex[:8]}"
    fire = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=8)
    register(server, name, repo, [once_at(fire)])
    shown = server.client.get(f"/api/v1/apps/{name}", headers=server.auth).json()
    assert datetime.fromisoformat(shown["next_schedule_at"]) == fire
    wait_runs(server, name, 1)
    (run,) = runs_of(server, name)
    finished = server.wait_run(run["id"])
    assert (finished["event"], finished["status"]) == ("schedule", "success"), finished
    assert "scheduled run of" in server.log_of(run["id"], "0")
    wait_until(fire + timedelta(seconds=4))  # several looks of the scheduler after the tick
    assert len(runs_of(server, name)) == 1
    server.stop()
    server.start()  # its first look catches up the latest missed tick: already fired
    time.sleep(4)
    assert len(runs_of(server, name)) == 1


def test_changed_and_deleted_schedules_take_effect_without_a_restart(
    server: ScdServer, repo: GitRepo
) -> None:
    repo.commit(PIPELINE)
    moved, dropped = (f"{kind}-{uuid.uuid4().hex[:8]}" for kind in ("moved", "dropped"))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    register(server, moved, repo, [once_at(now + timedelta(hours=2))])
    register(server, dropped, repo, [once_at(now + timedelta(seconds=12))])
    fire = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=10)
    register(server, moved, repo, [once_at(fire)])  # changed: from in two hours to soon
    deleted = server.client.delete(f"/api/v1/apps/{dropped}", headers=server.auth)
    assert deleted.status_code == 204
    wait_runs(server, moved, 1)
    wait_until(max(fire, now + timedelta(seconds=12)) + timedelta(seconds=4))
    assert [run["event"] for run in runs_of(server, moved)] == ["schedule"]
    assert runs_of(server, dropped) == []
