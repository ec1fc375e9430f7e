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


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def register_soon(
    server: ScdServer, prefix: str, repo: GitRepo, seconds: int
) -> tuple[str, datetime]:
    """A new app whose schedule fires ``seconds`` from now: (its name, the fire time).

    A fire time that precedes the PUT's answer may never fire (the PUT claims those
    before it), so on a machine too busy to answer in time another app is tried.
    """
    for _ in range(5):
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        fire = now_utc().replace(microsecond=0) + timedelta(seconds=seconds)
        register(server, name, repo, [once_at(fire)])
        if now_utc() < fire - timedelta(seconds=1):
            return name, fire
    pytest.fail("the apps API answered too late five times")


def runs_of(server: ScdServer, name: str) -> list[dict[str, Any]]:
    answer = server.client.get("/api/v1/runs", params={"app": name}, headers=server.auth)
    assert answer.status_code == 200, answer.text
    runs: list[dict[str, Any]] = answer.json()["runs"]
    return runs


def wait_until(moment: datetime) -> None:
    time.sleep(max((moment - now_utc()).total_seconds(), 0.0))


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
    name, fire = register_soon(server, "nightly", repo, 8)
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
    moved = f"moved-{uuid.uuid4().hex[:8]}"
    register(server, moved, repo, [once_at(now_utc() + timedelta(hours=2))])
    dropped_at, dropped = deleted_before_it_fires(server, repo)
    fire = now_utc().replace(microsecond=0) + timedelta(seconds=10)
    register(server, moved, repo, [once_at(fire)])  # changed: from in two hours to soon
    assert now_utc() < fire, "the PUT answered after the new fire time: the machine is stalled"
    wait_runs(server, moved, 1)
    wait_until(max(fire, dropped_at) + timedelta(seconds=4))
    assert [run["event"] for run in runs_of(server, moved)] == ["schedule"]
    assert runs_of(server, dropped) == []


def deleted_before_it_fires(server: ScdServer, repo: GitRepo) -> tuple[datetime, str]:
    """An app registered with a schedule 10 s ahead and deleted before then: (fire time, name)."""
    for _ in range(5):
        name, fire = register_soon(server, "dropped", repo, 10)
        deleted = server.client.delete(f"/api/v1/apps/{name}", headers=server.auth)
        assert deleted.status_code == 204
        if now_utc() < fire - timedelta(seconds=1):
            return fire, name
        wait_until(fire + timedelta(seconds=1))  # deleted too late: let it fire, try again
    pytest.fail("the apps API answered too late five times")
