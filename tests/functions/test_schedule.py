"""Schedules: FC timer events on /invoke and the local Scheduler's once-per-tick rule.

The minute tick, the catalogue-following scheduler and the start-of-schedule claims
are in ``test_schedule_catalogue.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from scd_core.errors import NotFound
from scd_core.invokers.memory import MemoryInvoker
from scd_core.settings import Settings
from scd_core.store import RunStore
from scd_core.stores import open_store

from functions.appconfig import Config, parse_config
from functions.trigger.app import create_app
from functions.trigger.auth import hash_token
from functions.trigger.scheduler import Scheduler
from functions.trigger.schedules import resolve_timer
from functions.trigger.testing import asgi_client

CONFIG = f"""
apps:
  - name: web
    repo: https://github.com/acme/web.git
    insecure_no_secret: true
    trigger:
      schedule:
        - cron: '0 */5 * * * *'
        - {{cron: '0 0 2 * * *', name: nightly}}
  - name: solo
    repo: https://github.com/acme/solo.git
    insecure_no_secret: true
    trigger:
      schedule: ['@every 1m']
tokens:
  - {{name: ci, sha256: {hash_token("trigger-token")}, scopes: [trigger]}}
"""
FC = {"x-fc-control-path": "/invoke", "Content-Type": "application/octet-stream"}


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 27, hour, minute, second, tzinfo=timezone.utc)


@pytest.fixture
def config() -> Config:
    return parse_config(CONFIG, "scd.yaml", {})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    yield opened
    opened.close()


def test_timer_names_and_payloads_map_to_an_app_schedule(config: Config) -> None:
    apps = config.apps
    assert resolve_timer(apps, "web--0", None) == (apps["web"], "0 */5 * * * *")
    assert resolve_timer(apps, "web--nightly", "") == (apps["web"], "0 0 2 * * *")
    assert resolve_timer(apps, "solo", None) == (apps["solo"], "@every 1m")
    payload = '{"app": "web", "cron": "0 0 2 * * *"}'
    assert resolve_timer(apps, "anything", payload) == (apps["web"], "0 0 2 * * *")
    assert resolve_timer(apps, "x", '{"app": "solo"}') == (apps["solo"], "@every 1m")
    for name, payload in (
        ("web", None),  # two schedules: the name must say which
        ("web--7", None),
        ("ghost--0", None),
        ("x", '{"app": "web", "cron": "* * * * * *"}'),
    ):
        with pytest.raises(NotFound):
            resolve_timer(apps, name, payload)


def fc_client(config: Config, store: RunStore, invoker: MemoryInvoker, tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path, trust_fc_headers=True)
    return asgi_client(create_app(settings, config=config, store=store, invoker=invoker))


def test_invoke_twice_with_one_trigger_time_starts_one_run(
    config: Config, store: RunStore, tmp_path: Path
) -> None:
    invoker = MemoryInvoker()
    event = {"triggerTime": "2026-11-27T02:00:00Z", "triggerName": "web--nightly", "payload": ""}
    with fc_client(config, store, invoker, tmp_path) as client:
        first = client.post("/invoke", json=event, headers=FC)
        again = client.post("/invoke", json=event, headers=FC)
    assert first.status_code == 202
    assert first.headers["x-fc-status"] == "200"
    run = store.get_run(first.json()["run_id"])
    assert (run.app, run.event.event_name) == ("web", "schedule")
    assert again.status_code == 200
    assert again.json() == {"run_id": run.id, "duplicate": True}
    assert [job.id for job in invoker.jobs] == [run.id]


def test_invoke_without_fc_header_needs_a_trigger_token(
    config: Config, store: RunStore, tmp_path: Path
) -> None:
    invoker = MemoryInvoker()
    event = {"triggerTime": "2026-11-27T02:00:00Z", "triggerName": "solo"}
    plain = {"Content-Type": "application/json"}
    with fc_client(config, store, invoker, tmp_path) as client:
        assert client.post("/invoke", json=event, headers=plain).status_code == 401
        with_token = {**plain, "Authorization": "Bearer trigger-token"}
        assert client.post("/invoke", json=event, headers=with_token).status_code == 202
    settings = Settings(data_dir=tmp_path, trust_fc_headers=False)
    api = create_app(settings, config=config, store=store, invoker=invoker)
    with asgi_client(api) as client:
        response = client.post("/invoke", json=event, headers=FC)
        assert response.status_code == 401  # off FC, anyone could send that header


def test_invoke_rejects_malformed_events_and_unknown_triggers(
    config: Config, store: RunStore, tmp_path: Path
) -> None:
    with fc_client(config, store, MemoryInvoker(), tmp_path) as client:
        bad = client.post("/invoke", content=b"not json", headers=FC)
        assert (bad.status_code, bad.json()["error"]) == (400, "bad_request")
        missing = client.post("/invoke", json={"triggerName": "solo"}, headers=FC)
        assert missing.status_code == 400
        assert "triggerTime" in missing.json()["detail"]
        unknown = {"triggerTime": "2026-11-27T02:00:00Z", "triggerName": "ghost"}
        missed = client.post("/invoke", json=unknown, headers=FC)
        assert (missed.status_code, missed.json()["error"]) == (404, "not_found")
        assert missed.headers["x-fc-status"] == "404"  # FC counts the invocation as failed


def web_scheduler(
    config: Config, store: RunStore, invoker: MemoryInvoker, **kw: object
) -> Scheduler:
    apps = [config.apps["web"]]
    return Scheduler(lambda: apps, store, invoker, **kw)  # type: ignore[arg-type]


def test_scheduler_fires_the_latest_missed_tick_at_start_then_each_tick_once(
    config: Config, store: RunStore
) -> None:
    invoker = MemoryInvoker()
    scheduler = web_scheduler(config, store, invoker)
    first = scheduler.run_due(at(10, 2, 30))
    assert [r.run.event.event_name for r in first] == ["schedule"]
    assert scheduler.run_due(at(10, 3)) == []
    assert len(scheduler.run_due(at(10, 5))) == 1
    assert scheduler.run_due(at(10, 5)) == []
    assert len(invoker.jobs) == 2


def test_a_restarted_scheduler_does_not_fire_a_tick_again(config: Config, store: RunStore) -> None:
    invoker = MemoryInvoker()
    assert len(web_scheduler(config, store, invoker).run_due(at(10, 5, 10))) == 1
    restarted = web_scheduler(config, store, invoker)
    assert restarted.run_due(at(10, 5, 40)) == []
    assert len(restarted.run_due(at(10, 10))) == 1
    assert len(invoker.jobs) == 2


def key(hour: int, minute: int) -> str:
    return f"web:schedule:0 */5 * * * *:2026-11-27T{hour:02}:{minute:02}:00+00:00"


def test_after_downtime_only_the_latest_tick_within_grace_fires(
    config: Config, store: RunStore
) -> None:
    invoker = MemoryInvoker()
    web_scheduler(config, store, invoker).run_due(at(10, 0, 1))
    back = web_scheduler(config, store, invoker).run_due(at(11, 2, 30))  # 10:05..11:00 missed
    assert [launched.run.dedup_key for launched in back] == [key(11, 0)]
    late = web_scheduler(config, store, invoker, grace=timedelta(seconds=60))
    assert late.run_due(at(11, 9)) == []  # 11:05 is more than 60 s ago
    assert len(invoker.jobs) == 2


def test_two_schedulers_sharing_a_store_fire_each_tick_once(config: Config, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    one, two = open_store(url), open_store(url)
    invoker = MemoryInvoker()
    a, b = web_scheduler(config, one, invoker), web_scheduler(config, two, invoker)
    for moment in (at(10, 0, 5), at(10, 5), at(10, 10), at(10, 10, 30)):
        a.run_due(moment)
        b.run_due(moment)
    assert len(invoker.jobs) == 3
    assert len({job.id for job in invoker.jobs}) == 3
    one.close()
    two.close()


class _Stop(Exception):
    pass


def test_serve_sleeps_until_the_next_tick_or_the_next_catalogue_look(
    config: Config, store: RunStore
) -> None:
    now = [at(10, 1)]
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 8:
            raise _Stop
        now[0] += timedelta(seconds=seconds)

    invoker = MemoryInvoker()
    scheduler = web_scheduler(
        config, store, invoker, clock=lambda: now[0], sleep=fake_sleep, refresh_s=45.0
    )
    with pytest.raises(_Stop):
        asyncio.run(scheduler.serve())
    # never longer than refresh_s (a changed catalogue is seen within it), and
    # cut short to wake at the 10:05 tick
    assert sleeps == [45.0] * 5 + [15.0] + [45.0] * 2
    runs, _ = store.list_runs()
    assert sorted(run.dedup_key for run in runs) == [key(10, 0), key(10, 5)]


def test_lifespan_starts_and_stops_the_scheduler_when_enabled(
    config: Config, store: RunStore, tmp_path: Path
) -> None:
    invoker = MemoryInvoker()
    settings = Settings(data_dir=tmp_path, scheduler=True)
    api = create_app(settings, config=config, store=store, invoker=invoker)
    with asgi_client(api):
        deadline = time.monotonic() + 30
        while not invoker.jobs and time.monotonic() < deadline:
            time.sleep(0.02)
    # "@every 1m" always has a tick within the 300 s grace window before now.
    assert any(job.app == "solo" for job in invoker.jobs)
