"""Schedules follow the app catalogue: FC's minute tick, the scheduler's looks, a PUT's claims,
and the next fire times the apps API shows."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from scd_core.invokers.memory import MemoryInvoker
from scd_core.models import utcnow
from scd_core.settings import Settings
from scd_core.store import RunStore
from scd_core.stores import open_store
from scd_trigger_spec import App

from functions.appconfig import Config, parse_config
from functions.trigger.app import create_app
from functions.trigger.auth import hash_token
from functions.trigger.scheduler import Scheduler
from functions.trigger.schedules import claim_started, tick_due
from functions.trigger.testing import asgi_client
from functions.trigger.timers import TickAnswer

GRACE = timedelta(seconds=300)
FC = {"x-fc-control-path": "/invoke", "Content-Type": "application/octet-stream"}
ADMIN = {"Authorization": "Bearer admin-token"}
TICK = '{"scd": "tick"}'


def at(hour: int, minute: int, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 11, 27, hour, minute, second, micro, tzinfo=timezone.utc)


def app(name: str, *crons: str) -> App:
    schedule = [{"cron": cron} for cron in crons]
    return App.model_validate(
        {
            "name": name,
            "repo": f"https://github.com/acme/{name}.git",
            "insecure_no_secret": True,
            "trigger": {"schedule": schedule},
        }
    )


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    yield opened
    opened.close()


def dedup_keys(store: RunStore, app_name: str) -> list[str]:
    runs, _ = store.list_runs(app=app_name)
    return sorted(run.dedup_key for run in runs)


# -- the minute tick's window ---------------------------------------------------------------


def test_a_minute_tick_fires_each_schedule_at_its_latest_fire_time_of_the_minute_before() -> None:
    apps = [
        app("web", "0 */5 * * * *", "0 0 2 * * *"),
        app("solo", "@every 1m"),
        app("fast", "*/10 * * * * *"),
        app("odd", "30 4 10 * * *"),
    ]
    tick, due = tick_due(apps, at(10, 5, 0, 400_000))  # FC's triggerTime, a little late
    assert tick == at(10, 5)
    assert {(d.app, d.cron, d.at) for d in due} == {
        ("web", "0 */5 * * * *", at(10, 5)),
        ("solo", "@every 1m", at(10, 5)),
        ("fast", "*/10 * * * * *", at(10, 5)),  # six fire times in the window: one run
        ("odd", "30 4 10 * * *", at(10, 4, 30)),  # fired at the first tick after it
    }
    tick, due = tick_due(apps, at(10, 6))
    # 10:04:30 belonged to the 10:05 tick's window (10:04, 10:05]: never twice
    assert {(d.app, d.at) for d in due} == {("solo", at(10, 6)), ("fast", at(10, 6))}


# -- the minute tick on /invoke ---------------------------------------------------------------


def config_with(apps: str) -> Config:
    token = f"  - {{name: a, sha256: {hash_token('admin-token')}, scopes: [admin]}}\n"
    text = f"apps:\n{apps}tokens:\n{token}"
    return parse_config(text, "scd.yaml", {})


WEB = """\
  - name: web
    repo: https://github.com/acme/web.git
    insecure_no_secret: true
    trigger:
      schedule: ['@every 1m', {cron: '0 0 2 * * *', name: nightly}]
"""


def fc_client(config: Config, store: RunStore, invoker: MemoryInvoker, tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path, trust_fc_headers=True)
    return asgi_client(create_app(settings, config=config, store=store, invoker=invoker))


def register(client: Any, name: str, schedule: list[Any]) -> None:
    spec = {
        "repo": f"https://github.com/acme/{name}.git",
        "insecure_no_secret": True,
        "trigger": {"schedule": schedule},
    }
    answer = client.put(f"/api/v1/apps/{name}", json=spec, headers=ADMIN)
    assert answer.status_code in (200, 201), answer.text


def tick_event(moment: datetime) -> dict[str, str]:
    stamp = moment.isoformat().replace("+00:00", "Z")
    return {"triggerTime": stamp, "triggerName": "scd-tick", "payload": TICK}


def test_a_minute_tick_delivered_twice_fires_one_run_per_due_schedule(
    store: RunStore, tmp_path: Path
) -> None:
    invoker = MemoryInvoker()
    with fc_client(config_with(WEB), store, invoker, tmp_path) as client:
        register(client, "reg", ["@every 1m", "*/20 * * * * *"])
        tick = minute(utcnow()) + timedelta(minutes=3)  # after the PUT's own claims
        first = client.post("/invoke", json=tick_event(tick), headers=FC)
        again = client.post("/invoke", json=tick_event(tick), headers=FC)
        late = client.post("/invoke", json=tick_event(tick + timedelta(seconds=2)), headers=FC)
    assert first.status_code == 200, first.text
    assert first.headers["x-fc-status"] == "200"
    body = first.json()
    TickAnswer.model_validate(body)  # the answer the OpenAPI document describes
    assert body["tick"] == tick.isoformat()
    assert body["already"] == 0
    fired = {(f["app"], f["cron"], f["at"]) for f in body["fired"]}
    assert fired == {
        ("web", "@every 1m", tick.isoformat()),
        ("reg", "@every 1m", tick.isoformat()),
        ("reg", "*/20 * * * * *", tick.isoformat()),
    }
    for answer in (again, late):  # a redelivery, and one whose triggerTime slipped
        assert answer.status_code == 200
        assert answer.json() == {"tick": tick.isoformat(), "fired": [], "already": 3}
    assert len(invoker.jobs) == 3
    assert sorted(job.id for job in invoker.jobs) == sorted(f["run_id"] for f in body["fired"])
    run = store.get_run(body["fired"][0]["run_id"])
    assert run.event.event_name == "schedule"


def test_a_minute_tick_and_a_schedules_own_timer_make_one_run_of_one_fire_time(
    store: RunStore, tmp_path: Path
) -> None:
    invoker = MemoryInvoker()
    tick = at(10, 5)
    own = {"triggerTime": "2026-11-27T10:05:00Z", "triggerName": "web--0", "payload": ""}
    with fc_client(config_with(WEB), store, invoker, tmp_path) as client:
        by_tick = client.post("/invoke", json=tick_event(tick), headers=FC).json()
        by_own = client.post("/invoke", json=own, headers=FC)
    assert by_own.json() == {"run_id": by_tick["fired"][0]["run_id"], "duplicate": True}
    assert len(invoker.jobs) == 1


def test_a_schedule_put_through_the_api_does_not_fire_a_tick_that_precedes_it(
    store: RunStore, tmp_path: Path
) -> None:
    invoker = MemoryInvoker()
    with fc_client(config_with(""), store, invoker, tmp_path) as client:
        before = utcnow()
        register(client, "fresh", ["@every 1m"])
        after = utcnow()
        earlier = client.post("/invoke", json=tick_event(minute(before)), headers=FC).json()
        nxt = minute(after) + timedelta(minutes=1)
        later = client.post("/invoke", json=tick_event(nxt), headers=FC).json()
    assert (earlier["fired"], earlier["already"]) == ([], 1)
    assert [(f["app"], f["at"]) for f in later["fired"]] == [("fresh", nxt.isoformat())]
    assert len(invoker.jobs) == 1


def test_a_minute_tick_that_cannot_read_the_store_fails_so_fc_retries_it(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'gone.db'}")
    invoker = MemoryInvoker()
    with fc_client(config_with(WEB), store, invoker, tmp_path) as client:
        store.close()  # every store call now raises the store's BackendError
        failed = client.post("/invoke", json=tick_event(at(10, 5)), headers=FC)
    assert failed.status_code >= 500
    assert failed.headers["x-fc-status"] == "404"
    assert invoker.jobs == []


# -- the scheduler of scd serve follows the catalogue -------------------------------------


class Catalogue:
    """The apps as a test changes them, with the claims a PUT makes."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.apps: dict[str, App] = {}

    def __call__(self) -> list[App]:
        return list(self.apps.values())

    def put(self, new: App, now: datetime) -> None:
        old = self.apps.get(new.name)
        before = [] if old is None else [entry.cron for entry in old.trigger.schedule]
        self.apps[new.name] = new
        claim_started(self.store, new, before, now, GRACE)


def test_the_scheduler_follows_apps_registered_changed_and_deleted(store: RunStore) -> None:
    invoker = MemoryInvoker()
    catalogue = Catalogue(store)
    catalogue.put(app("gone", "0 */5 * * * *"), at(9, 0))
    scheduler = Scheduler(catalogue, store, invoker, grace=GRACE)
    assert scheduler.run_due(at(10, 0, 30)) != []  # start: gone's latest missed tick, 10:00
    catalogue.put(app("late", "0 */5 * * * *"), at(10, 1, 10))
    assert scheduler.run_due(at(10, 1, 12)) == []  # 10:00 precedes late's registration
    assert scheduler.schedules == [("gone", "0 */5 * * * *"), ("late", "0 */5 * * * *")]
    assert len(scheduler.run_due(at(10, 5))) == 2
    assert scheduler.run_due(at(10, 5, 1)) == []
    # late's cron moves to 10:06:00, at 10:06:20: that tick is before the change
    catalogue.put(app("late", "0 6 10 * * *"), at(10, 6, 20))
    del catalogue.apps["gone"]
    assert scheduler.run_due(at(10, 6, 21)) == []
    assert scheduler.schedules == [("late", "0 6 10 * * *")]
    assert scheduler.run_due(at(10, 10)) == []  # gone's 10:10 does not fire
    restarted = Scheduler(catalogue, store, invoker, grace=GRACE)
    assert restarted.run_due(at(10, 11)) == []  # nor does a restart catch up 10:06:00
    assert dedup_keys(store, "gone") == [
        "gone:schedule:0 */5 * * * *:2026-11-27T10:00:00+00:00",
        "gone:schedule:0 */5 * * * *:2026-11-27T10:05:00+00:00",
    ]
    assert dedup_keys(store, "late") == ["late:schedule:0 */5 * * * *:2026-11-27T10:05:00+00:00"]


def test_a_schedule_seen_a_look_late_still_fires_its_first_tick_after_the_put(
    store: RunStore,
) -> None:
    invoker = MemoryInvoker()
    catalogue = Catalogue(store)
    scheduler = Scheduler(catalogue, store, invoker, grace=GRACE)
    assert scheduler.run_due(at(10, 2)) == []
    catalogue.put(app("quick", "1 2 10 * * *"), at(10, 2, 0, 500_000))  # fires 10:02:01
    assert len(scheduler.run_due(at(10, 2, 3))) == 1  # the look after the tick catches it
    assert scheduler.run_due(at(10, 2, 5)) == []
    assert dedup_keys(store, "quick") == ["quick:schedule:1 2 10 * * *:2026-11-27T10:02:01+00:00"]


def test_two_schedulers_following_one_store_fire_a_registered_schedule_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    one, two = open_store(url), open_store(url)
    invoker = MemoryInvoker()
    catalogue = Catalogue(one)
    a = Scheduler(catalogue, one, invoker, grace=GRACE)
    b = Scheduler(catalogue, two, invoker, grace=GRACE)
    for scheduler in (a, b):
        scheduler.run_due(at(10, 0, 1))
    catalogue.put(app("both", "*/30 * * * * *"), at(10, 0, 2))
    for moment in (at(10, 0, 29), at(10, 0, 30), at(10, 0, 31), at(10, 1), at(10, 1, 2)):
        a.run_due(moment)
        b.run_due(moment)
    assert sorted(job.app for job in invoker.jobs) == ["both", "both"]
    assert len({job.id for job in invoker.jobs}) == 2
    one.close()
    two.close()


def test_a_scheduler_that_stalled_fires_only_the_fire_times_within_grace(store: RunStore) -> None:
    invoker = MemoryInvoker()
    apps = [app("web", "0 */5 * * * *")]
    scheduler = Scheduler(lambda: apps, store, invoker, grace=timedelta(seconds=400))
    assert len(scheduler.run_due(at(10, 0, 1))) == 1
    assert scheduler.next_wake(at(10, 0, 2)) == at(10, 5)
    late = scheduler.run_due(at(10, 21))  # asleep from 10:00:01 to 10:21 (a stall)
    assert [launched.run.event.payload["tick"] for launched in late] == [
        "2026-11-27T10:15:00+00:00",
        "2026-11-27T10:20:00+00:00",
    ]  # 10:05 and 10:10 are more than 400 s ago
    assert scheduler.next_wake(at(10, 21)) == at(10, 25)


def test_a_failed_catalogue_read_keeps_the_schedules_followed(store: RunStore) -> None:
    from scd_core.errors import BackendError

    invoker = MemoryInvoker()
    apps = [app("web", "0 */5 * * * *")]
    broken = [False]

    def catalogue() -> list[App]:
        if broken[0]:
            raise BackendError("store unavailable")
        return apps

    scheduler = Scheduler(catalogue, store, invoker, grace=GRACE)
    scheduler.run_due(at(10, 1))
    broken[0] = True
    assert len(scheduler.run_due(at(10, 5))) == 1
    # a start whose first read fails still catches up at its first successful one
    starting = Scheduler(catalogue, store, invoker, grace=GRACE)
    assert starting.run_due(at(10, 11)) == []
    broken[0] = False
    caught_up = starting.run_due(at(10, 12))
    assert [launched.run.event.payload["tick"] for launched in caught_up] == [
        "2026-11-27T10:10:00+00:00"
    ]


def test_wake_cuts_the_schedulers_sleep_short(store: RunStore) -> None:
    looks: list[int] = []

    def catalogue() -> list[App]:
        looks.append(1)
        return []

    async def scenario() -> int:
        scheduler = Scheduler(catalogue, store, MemoryInvoker(), refresh_s=600.0)
        scheduler.start()
        try:
            await wait_for(lambda: len(looks) == 1)
            await asyncio.sleep(0.2)
            assert len(looks) == 1  # asleep: 600 s to go
            scheduler.wake()
            await wait_for(lambda: len(looks) == 2)
        finally:
            await scheduler.stop()
        return len(looks)

    assert asyncio.run(scenario()) == 2


async def wait_for(condition: Any, timeout_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# -- next fire times in the apps API ---------------------------------------------------------


def test_the_apps_api_shows_each_schedule_with_its_next_fire_time(
    store: RunStore, tmp_path: Path
) -> None:
    with fc_client(config_with(WEB), store, MemoryInvoker(), tmp_path) as client:
        register(client, "plain", [])
        start = utcnow()
        one = client.get("/api/v1/apps/web", headers=ADMIN).json()
        listed = client.get("/api/v1/apps", headers=ADMIN).json()["apps"]
        end = utcnow()
    every, nightly = one["schedules"]
    assert (every["cron"], every["name"]) == ("@every 1m", None)
    next_minute = datetime.fromisoformat(every["next_at"])
    assert minute(start) < next_minute <= minute(end) + timedelta(minutes=1)
    assert next_minute == minute(next_minute)
    assert nightly["name"] == "nightly"
    next_night = datetime.fromisoformat(nightly["next_at"])
    assert (next_night.hour, next_night.minute, next_night.second) == (2, 0, 0)
    assert start < next_night <= end + timedelta(days=1)
    assert one["next_schedule_at"] == min(every["next_at"], nightly["next_at"], key=str)
    by_name = {view["name"]: view for view in listed}
    assert by_name["web"]["schedules"] == one["schedules"]
    assert (by_name["plain"]["schedules"], by_name["plain"]["next_schedule_at"]) == ([], None)
