"""The redis invoker and consumer against a real redis-server: dedup, delivery,
stop, control, take-over of a dead consumer's entries, the dead-letter stream."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from factories import make_job
from redisutil import RedisServer
from scd_core.errors import ConfigError
from scd_core.invokers import open_invoker
from scd_core.invokers.redisstream import RedisInvoker, parse_redis_url
from scd_core.invokers.redisworker import Delivery, RedisConsumer
from scd_core.models import Job


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as started:
        yield started


@pytest.fixture
def url(server: RedisServer) -> str:
    """A stream of its own per test."""
    return f"{server.url}?stream=test-{uuid.uuid4().hex[:8]}"


def recording(
    into: list[int] | list[str] | list[tuple[str, int]],
    what: Callable[[Job, Delivery], object],
    done: bool = True,
) -> Callable[[Job, Delivery], bool]:
    """A handler appending ``what(job, delivery)`` to ``into`` and answering ``done``."""

    def handle(job: Job, delivery: Delivery) -> bool:
        into.append(what(job, delivery))  # type: ignore[arg-type]
        return done

    return handle


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


class Consuming:
    """A RedisConsumer running in a thread, recording what its handler saw."""

    def __init__(self, url: str, handle: Callable[[Job, Delivery], bool], **options: object):
        base, stream = parse_redis_url(url)
        self.control: list[str] = []
        self.dead: list[tuple[str, int]] = []
        self.consumer = RedisConsumer(
            base,
            stream,
            handle,
            on_control=self.control.append,
            on_dead=lambda job_id, payload, n: self.dead.append((job_id, n)),
            block_s=0.2,
            **options,  # type: ignore[arg-type]
        )
        self.thread = threading.Thread(target=self.consumer.run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.consumer.stop()
        self.thread.join(30)
        assert not self.thread.is_alive()


def test_open_invoker_selects_redis_by_url_and_rejects_bad_options(url: str) -> None:
    invoker = open_invoker(url)
    try:
        assert isinstance(invoker, RedisInvoker)
    finally:
        invoker.close()
    with pytest.raises(ConfigError, match="only option is stream"):
        open_invoker("redis://127.0.0.1:1/0?queue=x")
    with pytest.raises(ConfigError, match="database number"):
        open_invoker("redis://127.0.0.1:1/jobs")


def test_a_bad_url_error_never_shows_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_redis_url("redis://:hunter2@127.0.0.1:6379/x")
    assert "hunter2" not in str(caught.value)


def test_dispatch_is_a_no_op_for_a_job_id_seen_before_even_after_it_finished(url: str) -> None:
    seen: list[tuple[str, int]] = []
    invoker = RedisInvoker(url)
    consuming = Consuming(url, recording(seen, lambda job, d: (job.id, d.count)))
    try:
        invoker.dispatch(make_job(id="job-1"))
        invoker.dispatch(make_job(id="job-1"))
        wait_for(lambda: seen == [("job-1", 1)])
        invoker.dispatch(make_job(id="job-1"))  # after it finished (acked)
        invoker.dispatch_many([make_job(id="job-2"), make_job(id="job-1")])
        wait_for(lambda: len(seen) == 2)
        time.sleep(0.5)
        assert seen == [("job-1", 1), ("job-2", 1)]
        assert invoker.counts() == {"stream": 0, "pending": 0, "dead": 0}
    finally:
        consuming.close()
        invoker.close()


def test_a_job_stopped_while_queued_is_delivered_marked_stopped_and_a_running_one_gets_control(
    url: str,
) -> None:
    deliveries: list[tuple[str, bool]] = []
    release = threading.Event()

    def handle(job: Job, delivery: Delivery) -> bool:
        deliveries.append((job.id, delivery.stopped))
        if job.id == "running":
            release.wait(30)
        return True

    invoker = RedisInvoker(url)
    invoker.dispatch(make_job(id="queued"))
    invoker.stop("queued")
    consuming = Consuming(url, handle)
    try:
        wait_for(lambda: deliveries == [("queued", True)])
        invoker.dispatch(make_job(id="running"))
        wait_for(lambda: len(deliveries) == 2)
        time.sleep(0.3)  # the control channel is subscribed by now
        invoker.stop("running")
        wait_for(lambda: consuming.control == ["running"], timeout_s=5)
        assert deliveries[1] == ("running", False)
    finally:
        release.set()
        consuming.close()
        invoker.close()


def test_a_dead_consumers_entry_is_taken_over_after_the_lease_and_then_dead_lettered(
    url: str,
) -> None:
    counts: list[int] = []
    invoker = RedisInvoker(url)
    # This consumer "dies" holding the entry: its handler never returns True.
    holding = recording(counts, lambda job, d: d.count, done=False)
    consuming = Consuming(url, holding, lease_s=0.5, max_deliveries=3)
    try:
        invoker.dispatch(make_job(id="orphan"))
        wait_for(lambda: consuming.dead == [("orphan", 4)])
        assert counts == [1, 2, 3]
        assert invoker.counts() == {"stream": 0, "pending": 0, "dead": 1}
    finally:
        consuming.close()
        invoker.close()


def test_a_long_job_of_a_live_consumer_is_not_taken_over(url: str) -> None:
    counts: list[int] = []
    release = threading.Event()

    def slow(job: Job, delivery: Delivery) -> bool:
        counts.append(delivery.count)
        release.wait(30)
        return True

    invoker = RedisInvoker(url)
    first = Consuming(url, slow, lease_s=0.6)
    second = Consuming(url, slow, lease_s=0.6)
    try:
        invoker.dispatch(make_job(id="long"))
        wait_for(lambda: counts == [1])
        time.sleep(3.0)  # five leases: the keeper keeps the entry fresh
        assert counts == [1]
    finally:
        release.set()
        first.close()
        second.close()
        invoker.close()


def test_queued_jobs_survive_a_redis_restart(server: RedisServer, url: str) -> None:
    invoker = RedisInvoker(url)
    invoker.dispatch_many([make_job(id=f"job-{n}") for n in range(20)])
    invoker.close()
    server.restart()
    seen: list[str] = []
    consuming = Consuming(url, recording(seen, lambda job, d: job.id))
    try:
        wait_for(lambda: len(seen) == 20)
        assert sorted(seen) == sorted(f"job-{n}" for n in range(20))
    finally:
        consuming.close()
