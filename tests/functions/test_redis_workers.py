"""``scd worker --redis`` processes against a real redis-server and a SQLite store:
many jobs drained by two workers while one is killed, retry of a lost run when
the app asks for it, queued jobs across a Redis restart, cancel through the
control channel."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import app_spec, make_repo, scd_yaml
from redisutil import RedisServer
from scd_core.invokers.redisstream import RedisInvoker
from scd_core.models import FINAL_STATUSES, Job
from scd_core.store import RunStore
from scd_core.stores import open_store
from test_worker_support import REPO_ROOT, log_text, new_job

pytestmark = pytest.mark.slow

LEASE_S = 4.0  # Redis: idle time before a dead worker's job is taken over
STORE_TTL_S = 2.0  # the store's task lease: shorter, so it has expired by then
TRIVIAL = "steps:\n  - id: say\n    run: echo drained-once\n"


def sleeping(pid_file: Path, seconds: int) -> str:
    return (
        "steps:\n  - id: nap\n    run: |\n      echo napping\n"
        f"      echo $$ > {pid_file}\n      sleep {seconds}\n      echo woke\n"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as started:
        yield started


# An app no scd.yaml names: its runs check out the repository their own record names.
LOOSE = "loose"

class Workers:
    """``scd worker`` processes sharing one data dir, store and stream."""

    def __init__(self, data_dir: Path, url: str) -> None:
        self.data_dir = data_dir
        self.url = url
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, concurrency: int = 1) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "SCD_DATA_DIR": str(self.data_dir),
            "SCD_CONFIG": str(self.data_dir / "scd.yaml"),
            "SCD_LEASE_TTL_SECONDS": str(STORE_TTL_S),
            "SCD_STEP_GRACE_SECONDS": "1",
            # steps report through files under the test's temp dir: no sandbox here
            "SCD_SANDBOX": "none",
        }
        args = ["--redis", self.url, "--concurrency", str(concurrency), "--lease", str(LEASE_S)]
        with (self.data_dir / f"worker-{len(self.procs)}.log").open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "functions.commands.worker", *args],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def output(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.data_dir.glob("worker-*.log")))


@pytest.fixture
def setup(
    tmp_path: Path, server: RedisServer
) -> Iterator[Callable[..., tuple[RunStore, Workers, RedisInvoker]]]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = f"{server.url}?stream=jobs-{uuid.uuid4().hex[:8]}"
    opened: list[Any] = []

    def make(**app: Any) -> tuple[RunStore, Workers, RedisInvoker]:
        spec = app_spec("web", secret=None, insecure_no_secret=True, **app)
        (data_dir / "scd.yaml").write_text(scd_yaml(spec))
        store = open_store(f"sqlite:///{data_dir / 'scd.db'}")
        workers = Workers(data_dir, url)
        invoker = RedisInvoker(url)
        opened.extend([store, workers, invoker])
        return store, workers, invoker

    yield make
    for thing in reversed(opened):
        (thing.stop if isinstance(thing, Workers) else thing.close)()


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def wait_file(path: Path, timeout_s: float = 60) -> int:
    wait_for(lambda: path.exists() and path.read_text().strip() != "", timeout_s, str(path))
    return int(path.read_text())


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def all_final(store: RunStore, ids: list[str]) -> bool:
    return all(store.get_run(run_id).status in FINAL_STATUSES for run_id in ids)


def test_two_workers_drain_300_jobs_while_one_is_killed_mid_job_every_run_ends_once(
    setup: Callable[..., tuple[RunStore, Workers, RedisInvoker]], tmp_path: Path
) -> None:
    store, workers, invoker = setup()
    pid_file = tmp_path / "nap.pid"
    long_repo, long_sha = make_repo(
        tmp_path / "long", {"serverless-pipeline.yaml": sleeping(pid_file, 120)}
    )
    repo, sha = make_repo(tmp_path / "repo", {"serverless-pipeline.yaml": TRIVIAL})
    doomed = workers.start(concurrency=2)
    long_job = new_job(store, f"file://{long_repo}", long_sha, app=LOOSE)
    invoker.dispatch(long_job)
    step_pid = wait_file(pid_file)  # the long job runs on the doomed worker
    workers.start(concurrency=2)
    jobs = [new_job(store, f"file://{repo}", sha, app=LOOSE) for _ in range(300)]
    invoker.dispatch_many(jobs)
    ids = [job.id for job in jobs]
    wait_for(
        lambda: sum(store.get_run(i).status == "success" for i in ids[:60]) >= 20, 120, "progress"
    )
    doomed.kill()  # kill -9, mid-job: its long job and whatever else it held
    doomed.wait()
    kill_quietly(step_pid)
    wait_for(lambda: all_final(store, [long_job.id, *ids]), 600, "every run to end")
    lost = store.get_run(long_job.id)
    assert lost.status == "error"
    assert lost.message is not None
    assert lost.message.startswith("worker lost"), lost.message
    assert "napping" in log_text(workers.data_dir, long_job.id, "nap")
    for run_id in ids:
        run = store.get_run(run_id)
        if run.status == "success":  # ran once: one attempt, one line in its log
            assert run.attempt == 1
            assert log_text(workers.data_dir, run_id, "say").count("drained-once") == 1
        else:  # held by the killed worker when it died
            assert run.status == "error"
            assert (run.message or "").startswith("worker lost")
    lost_count = sum(store.get_run(i).status != "success" for i in ids)
    assert lost_count <= 2  # at most the killed worker's concurrency
    wait_for(lambda: invoker.counts() == {"stream": 0, "pending": 0, "dead": 0}, 30, "acks")


def test_a_lost_run_is_retried_when_the_app_asks_for_it(
    setup: Callable[..., tuple[RunStore, Workers, RedisInvoker]], tmp_path: Path
) -> None:
    pid_file = tmp_path / "nap.pid"
    repo, sha = make_repo(tmp_path / "repo", {"serverless-pipeline.yaml": sleeping(pid_file, 3)})
    # the worker checks out the app's repository: the app names this one
    store, workers, invoker = setup(repo=f"file://{repo}", retry={"max": 2, "on": ["worker-lost"]})
    doomed = workers.start()
    job = new_job(store, f"file://{repo}", sha)
    invoker.dispatch(job)
    first = wait_file(pid_file)
    pid_file.unlink()
    doomed.kill()
    doomed.wait()
    kill_quietly(first)
    workers.start()
    wait_for(lambda: store.find_run(f"retry:{job.id}") is not None, 120, "the retry")
    lost = store.get_run(job.id)
    assert lost.status == "error"
    assert lost.message == "worker lost"
    retry = store.find_run(f"retry:{job.id}")
    assert retry is not None
    assert retry.rerun_of == job.id
    wait_for(lambda: all_final(store, [retry.id]), 120, "the retried run to end")
    retry = store.get_run(retry.id)
    assert retry.status == "success", (retry.message, workers.output())
    assert retry.attempt == 2
    assert retry.tasks[0].attempt == 2
    assert "woke" in log_text(workers.data_dir, retry.id, "nap")
    assert store.find_run(f"retry:{retry.id}") is None  # it ended: no further attempt


def test_queued_jobs_survive_a_redis_restart_and_then_run(
    setup: Callable[..., tuple[RunStore, Workers, RedisInvoker]],
    server: RedisServer,
    tmp_path: Path,
) -> None:
    store, workers, invoker = setup()
    repo, sha = make_repo(tmp_path / "repo", {"serverless-pipeline.yaml": TRIVIAL})
    jobs = [new_job(store, f"file://{repo}", sha, app=LOOSE) for _ in range(10)]
    invoker.dispatch_many(jobs)
    server.restart()
    workers.start(concurrency=2)
    wait_for(lambda: all_final(store, [j.id for j in jobs]), 120, "the queued runs to end")
    assert {store.get_run(j.id).status for j in jobs} == {"success"}


def test_a_cancel_reaches_a_running_step_through_the_control_channel(
    setup: Callable[..., tuple[RunStore, Workers, RedisInvoker]], tmp_path: Path
) -> None:
    store, workers, invoker = setup()
    pid_file = tmp_path / "nap.pid"
    repo, sha = make_repo(tmp_path / "repo", {"serverless-pipeline.yaml": sleeping(pid_file, 60)})
    workers.start()
    job = new_job(store, f"file://{repo}", sha, app=LOOSE)
    invoker.dispatch(job)
    wait_file(pid_file)
    invoker.stop(job.id)  # only the channel: no store cancel request is written here
    wait_for(lambda: all_final(store, [job.id]), 30, "the cancelled run to end")
    assert store.get_run(job.id).status == "cancelled"
    assert store.get_control(job.id) is None


def test_a_job_stopped_while_queued_never_starts(
    setup: Callable[..., tuple[RunStore, Workers, RedisInvoker]], tmp_path: Path
) -> None:
    store, workers, invoker = setup()
    repo, sha = make_repo(tmp_path / "repo", {"serverless-pipeline.yaml": TRIVIAL})
    job: Job = new_job(store, f"file://{repo}", sha, app=LOOSE)
    invoker.dispatch(job)
    invoker.stop(job.id)
    workers.start()
    wait_for(lambda: all_final(store, [job.id]), 60, "the stopped run to end")
    run = store.get_run(job.id)
    assert run.status == "cancelled"
    assert store.list_steps(job.id) == []
