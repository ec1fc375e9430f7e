"""MemoryInvoker: the Invoker contract, recorded instead of run."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from scd_core.errors import BackendError, ConfigError
from scd_core.invoker import Invoker
from scd_core.invokers import open_invoker
from scd_core.invokers.memory import MemoryInvoker
from scd_core.models import Job


def make_job(n: int | str, **changes: object) -> Job:
    fields = {"id": f"run-{n}", "app": "web", "ref": "refs/heads/main", "commit": f"{n}" * 40}
    return Job.model_validate({**fields, **changes})


def test_memory_invoker_satisfies_the_protocol() -> None:
    assert isinstance(MemoryInvoker(), Invoker)


def test_dispatch_records_jobs_in_order() -> None:
    invoker = MemoryInvoker()
    for n in (3, 1, 2):
        invoker.dispatch(make_job(n))
    assert [job.id for job in invoker.jobs] == ["run-3", "run-1", "run-2"]
    assert invoker.jobs[0] == make_job(3)


def test_dispatching_a_known_job_id_again_is_a_no_op() -> None:
    invoker = MemoryInvoker()
    invoker.dispatch(make_job(1))
    invoker.dispatch(make_job(1, attempt=2))
    assert [(job.id, job.attempt) for job in invoker.jobs] == [("run-1", 1)]


def test_recorded_jobs_are_copies() -> None:
    invoker = MemoryInvoker()
    job = make_job(1)
    invoker.dispatch(job)
    job.ref = "refs/heads/changed"
    job.commit = None
    invoker.jobs[0].ref = "refs/heads/changed too"
    assert invoker.jobs[0].ref == "refs/heads/main"
    assert invoker.jobs[0].commit == "1" * 40


def test_stop_records_known_jobs_once_and_ignores_unknown_ids() -> None:
    invoker = MemoryInvoker()
    invoker.dispatch(make_job(1))
    invoker.dispatch(make_job(2))
    invoker.stop("run-2")
    invoker.stop("run-2")
    invoker.stop("run-unknown")
    invoker.stop("run-1")
    assert invoker.stopped == ["run-2", "run-1"]


def test_on_dispatch_sees_each_new_job_once() -> None:
    seen: list[str] = []
    invoker = MemoryInvoker(on_dispatch=lambda job: seen.append(job.id))
    invoker.dispatch(make_job(1))
    invoker.dispatch(make_job(1))
    invoker.dispatch(make_job(2))
    assert seen == ["run-1", "run-2"]


def test_a_closed_invoker_refuses_dispatch() -> None:
    invoker = MemoryInvoker()
    invoker.close()
    invoker.close()
    with pytest.raises(BackendError):
        invoker.dispatch(make_job(1))
    assert invoker.jobs == []


def test_threads_dispatching_the_same_ids_record_each_once() -> None:
    invoker = MemoryInvoker()
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        barrier.wait()
        for n in range(50):
            invoker.dispatch(make_job(n))
            invoker.stop(f"run-{n}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    assert sorted(job.id for job in invoker.jobs) == sorted(f"run-{n}" for n in range(50))
    assert sorted(invoker.stopped) == sorted(f"run-{n}" for n in range(50))


def test_open_invoker_opens_memory_urls() -> None:
    assert isinstance(open_invoker("memory://"), MemoryInvoker)


@pytest.mark.parametrize(
    "url", ["sqs://acme/worker", "amqp://localhost", "memory", "memory://x", ""]
)
def test_open_invoker_rejects_unknown_urls_naming_the_accepted_ones(url: str) -> None:
    with pytest.raises(ConfigError, match="memory://"):
        open_invoker(url)
