"""Launcher: concurrent launches share one store write, and keep launch's contract."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from scd_core.errors import BackendError, NotFound
from scd_core.invokers.memory import MemoryInvoker
from scd_core.lifecycle import Change, Lifecycle
from scd_core.models import Event, Job, Run
from scd_core.store import Created
from scd_core.stores.rows import dump_model
from scd_core.stores.sqlite import SqliteRunStore
from scd_trigger_spec import Accepted, App

from functions.trigger.launcher import Launched, Launcher, new_run_ids

APP = App(name="web", repo="https://github.com/acme/web.git", insecure_no_secret=True)


def accepted(delivery: str) -> Accepted:
    event = Event(provider="github", event_name="push", ref="refs/heads/main", delivery_id=delivery)
    return Accepted(event, f"web:github:{delivery}")


class CountingStore(SqliteRunStore):
    """A SQLite store that records the size of each ``create_runs`` batch."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[int] = []

    def create_runs(self, runs: Sequence[Run]) -> list[Created]:
        self.batches.append(len(runs))
        return super().create_runs(runs)


async def launch_all(launcher: Launcher, deliveries: list[str]) -> list[Launched]:
    return await asyncio.gather(*(launcher.launch_async(APP, accepted(d)) for d in deliveries))


def test_concurrent_launches_are_recorded_in_fewer_writes_each_dispatched_once(
    tmp_path: Path,
) -> None:
    store = CountingStore(tmp_path / "runs.db")
    invoker = MemoryInvoker()
    launcher = Launcher(store, invoker)
    try:
        deliveries = [f"d{n}" for n in range(50)]
        launched = asyncio.run(launch_all(launcher, deliveries))
    finally:
        launcher.close()
    assert all(item.created for item in launched)
    assert sum(store.batches) == 50
    assert len(store.batches) < 50  # launches that waited together shared a write
    assert sorted(job.id for job in invoker.jobs) == sorted(item.run.id for item in launched)
    for item, delivery in zip(launched, deliveries, strict=True):
        assert store.get_run(item.run.id).dedup_key == f"web:github:{delivery}"
    store.close()


def test_a_redelivery_in_the_same_batch_answers_the_first_run_and_dispatches_once(
    tmp_path: Path,
) -> None:
    store = SqliteRunStore(tmp_path / "runs.db")
    invoker = MemoryInvoker()
    launcher = Launcher(store, invoker)
    try:
        first, again = asyncio.run(launch_all(launcher, ["same", "same"]))
    finally:
        launcher.close()
        store.close()
    assert (first.created, again.created) == (True, False)
    assert again.run == first.run
    assert [job.id for job in invoker.jobs] == [first.run.id]


def test_a_job_is_dispatched_only_after_its_run_is_committed(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    seen: list[bool] = []

    def on_dispatch(job: Job) -> None:
        reader = SqliteRunStore(path, checkpoint_interval_s=0)  # another connection
        try:
            seen.append(reader.get_run(job.id).id == job.id)
        except NotFound:
            seen.append(False)
        finally:
            reader.close()

    store = SqliteRunStore(path)
    launcher = Launcher(store, MemoryInvoker(on_dispatch))
    try:
        asyncio.run(launch_all(launcher, [f"d{n}" for n in range(5)]))
    finally:
        launcher.close()
        store.close()
    assert seen == [True] * 5


def test_a_failed_store_write_fails_every_waiting_launch(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "runs.db")
    store.close()  # every write now raises BackendError
    launcher = Launcher(store, MemoryInvoker())

    async def main() -> list[Launched | BaseException]:
        calls = [launcher.launch_async(APP, accepted(f"d{n}")) for n in range(3)]
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        outcomes = asyncio.run(main())
    finally:
        launcher.close()
    assert all(isinstance(outcome, BackendError) for outcome in outcomes)


def test_a_failed_dispatch_fails_only_its_own_launch(tmp_path: Path) -> None:
    def refuse_d1(job: Job) -> None:
        if store.get_run(job.id).event.delivery_id == "d1":  # the job holds ids only
            raise BackendError("queue full")

    store = SqliteRunStore(tmp_path / "runs.db")
    launcher = Launcher(store, MemoryInvoker(refuse_d1))

    async def main() -> list[Launched | BaseException]:
        calls = [launcher.launch_async(APP, accepted(f"d{n}")) for n in range(3)]
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        outcomes = asyncio.run(main())
    finally:
        launcher.close()
        store.close()
    assert isinstance(outcomes[1], BackendError)
    assert isinstance(outcomes[0], Launched)
    assert isinstance(outcomes[2], Launched)


def test_launch_from_a_thread_and_launch_async_agree_on_a_dedup_key(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "runs.db")
    invoker = MemoryInvoker()
    launcher = Launcher(store, invoker)
    try:
        direct = launcher.launch(APP, accepted("d1"))
        later = asyncio.run(launcher.launch_async(APP, accepted("d1")))
    finally:
        launcher.close()
        store.close()
    assert direct.created
    assert not later.created
    assert later.run == direct.run
    assert len(invoker.jobs) == 1


def test_close_finishes_submitted_launches_and_a_later_launch_still_works(
    tmp_path: Path,
) -> None:
    store = SqliteRunStore(tmp_path / "runs.db")
    invoker = MemoryInvoker()
    launcher = Launcher(store, invoker)

    async def first() -> None:
        await launch_all(launcher, ["d1", "d2"])

    asyncio.run(first())
    closer = threading.Thread(target=launcher.close)
    closer.start()
    closer.join()
    again = asyncio.run(launcher.launch_async(APP, accepted("d3")))
    launcher.close()
    store.close()
    assert again.created
    assert len(invoker.jobs) == 3


def test_a_cancelled_waiter_does_not_stop_its_launch(tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "runs.db")
    invoker = MemoryInvoker()
    launcher = Launcher(store, invoker)

    async def main() -> None:
        task = asyncio.ensure_future(launcher.launch_async(APP, accepted("d1")))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(main())
    finally:
        launcher.close()  # waits for the launch that was submitted
    assert store.find_run("web:github:d1") is not None
    assert len(invoker.jobs) == 1
    store.close()


def test_run_ids_made_together_are_distinct_hex_of_one_millisecond() -> None:
    ids = new_run_ids(50)
    assert len(set(ids)) == 50
    assert all(len(run_id) == 32 and int(run_id, 16) >= 0 for run_id in ids)
    assert len({run_id[:12] for run_id in ids}) == 1  # the creation time, in ms


def test_the_job_for_a_1_mb_push_serialises_under_4_kb(tmp_path: Path) -> None:
    payload = {
        "ref": "refs/heads/main",
        "commits": [{"id": f"{n:040x}", "message": "m" * 1000} for n in range(1000)],
    }
    event = Event(
        provider="github",
        event_name="push",
        ref="refs/heads/main",
        commit="c" * 40,
        added=[f"src/file-{n}.py" for n in range(500)],
        payload=payload,
    )
    assert len(event.model_dump_json()) > 1_000_000
    store = SqliteRunStore(tmp_path / "runs.db")
    invoker = MemoryInvoker()
    launcher = Launcher(store, invoker)
    try:
        launched = launcher.launch(APP, Accepted(event, "web:github:big"))
    finally:
        launcher.close()
    [job] = invoker.jobs
    text = dump_model(job)
    assert len(text.encode()) < 4096
    assert (job.id, job.run) == (launched.run.id, launched.run.id)
    assert (job.task, job.commit, job.clone_url) == ("default", "c" * 40, APP.repo)
    assert store.get_run(job.run).event.payload == payload  # the worker reads it from there
    store.close()


def test_new_runs_are_announced_queued_after_their_commit_and_duplicates_are_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "runs.db"
    heard: list[tuple[str, str, bool]] = []

    def listener(change: Change) -> None:
        reader = SqliteRunStore(path, checkpoint_interval_s=0)  # another connection
        try:
            committed = reader.find_run(change.run.dedup_key) is not None
            heard.append((change.name, change.run.id, committed))
        finally:
            reader.close()

    store = SqliteRunStore(path)
    launcher = Launcher(store, MemoryInvoker(), Lifecycle(store, [listener]))
    try:
        launched = asyncio.run(launch_all(launcher, ["d1", "d2", "d1"]))
        again = launcher.launch(APP, accepted("d2"))
    finally:
        launcher.close()
        store.close()
    assert not again.created
    new = [item.run.id for item in launched if item.created]
    assert sorted(heard) == sorted(("run.queued", run_id, True) for run_id in new)
    assert len(new) == 2
