"""Runs drained per second by N ``scd worker --redis`` processes against the local queue.

What it measures, in one run on one machine: M runs of a one-step pipeline
(``run: "true"``) from one local git repository, recorded in a fresh SQLite store,
then dispatched at once; drained/s is M over the time from the first dispatch to
the last run final in the store (checkout, set-up, the step, every record).

- **local**: ``LocalInvoker`` (its SQLite queue) delivering to N worker processes
  (``scd serve``'s ``WorkerPool``, ``POST /invoke``), as ``scd serve`` runs it;
- **redis**: ``RedisInvoker`` and N ``scd worker --redis`` processes (one job at a
  time each), as ``scd serve --redis`` runs it, against a fresh ``redis-server``
  (AOF on, fsync every write).

Checks: every run ends ``success``, each exactly once (attempt 1). The figure to
read is the ratio redis / local. Needs ``git`` and ``redis-server``.

Usage: ``uv run python bench/redis_drain.py [--runs 200] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
from factories import app_spec, make_repo, scd_yaml  # noqa: E402
from redisutil import RedisServer  # noqa: E402
from scd_core.invokers.local import LocalInvoker  # noqa: E402
from scd_core.invokers.redisstream import RedisInvoker  # noqa: E402
from scd_core.models import FINAL_STATUSES, Event, Job, Run  # noqa: E402
from scd_core.store import RunStore  # noqa: E402
from scd_core.stores import open_store  # noqa: E402

from functions.serve.workers import WorkerPool  # noqa: E402

__all__ = ["main"]

PIPELINE = "steps:\n  - run: 'true'\n"


def prepare(root: Path, runs: int) -> tuple[Path, RunStore, list[Job], dict[str, str]]:
    """A data dir with scd.yaml, a store holding ``runs`` queued runs, their jobs, the env."""
    data = root / "data"
    data.mkdir(parents=True)
    repo, sha = make_repo(root / "repo", {"serverless-pipeline.yaml": PIPELINE})
    url = repo.as_uri()
    spec = app_spec("web", repo=url, secret=None, insecure_no_secret=True)
    (data / "scd.yaml").write_text(scd_yaml(spec))
    store = open_store(f"sqlite:///{data / 'scd.db'}")
    jobs = []
    for n in range(runs):
        run_id = f"{n:032x}"
        event = Event(provider="github", event_name="push", ref="refs/heads/main", commit=sha)
        store.create_run(Run(id=run_id, app="web", dedup_key=f"bench-{n}", event=event))
        jobs.append(Job(id=run_id, app="web", clone_url=url, ref="refs/heads/main", commit=sha))
    env = {
        **os.environ,
        "SCD_DATA_DIR": str(data),
        "SCD_CONFIG": str(data / "scd.yaml"),
        "SCD_STORE": f"sqlite:///{data / 'scd.db'}",
        "SCD_LOG_SINK": f"file:///{data / 'logs'}",
        "PYTHONPATH": str(ROOT),
    }
    return data, store, jobs, env


def drain(store: RunStore, jobs: list[Job], dispatch: Callable[[list[Job]], None]) -> float:
    """Seconds from dispatching ``jobs`` to every run final; checks each ran once to success."""
    started = time.perf_counter()
    dispatch(jobs)
    pending = {job.id for job in jobs}
    deadline = time.monotonic() + 900
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"drain stalled with {len(pending)} runs left")
        pending = {i for i in pending if store.get_run(i).status not in FINAL_STATUSES}
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    for job in jobs:
        run = store.get_run(job.id)
        if run.status != "success" or run.attempt != 1:
            raise SystemExit(f"run {run.id} ended {run.status} (attempt {run.attempt})")
    return elapsed


def local(root: Path, runs: int, workers: int) -> float:
    data, store, jobs, env = prepare(root, runs)
    pool = WorkerPool(workers, env, data / "serve")
    invoker = LocalInvoker(data / "queue.db", pool.urls)
    pool.start()
    try:
        for url in pool.urls:  # ready: warmed up (store open, engine imported)
            httpx.post(f"{url}/initialize", timeout=120).raise_for_status()
        invoker.start()
        return drain(store, jobs, invoker.dispatch_many)
    finally:
        invoker.close()
        pool.stop()
        store.close()


def redis(root: Path, runs: int, workers: int) -> float:
    _, store, jobs, env = prepare(root, runs)
    with RedisServer(root / "redis") as server:
        invoker = RedisInvoker(server.url)
        argv = [sys.executable, "-m", "functions.commands.worker", "--redis", server.url]
        procs = [
            subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(workers)
        ]
        try:
            wait_consumers(server.url, workers)
            return drain(store, jobs, invoker.dispatch_many)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(60)
            invoker.close()
            store.close()


def wait_consumers(url: str, count: int) -> None:
    """Until ``count`` workers wait on the stream (each warmed up before its first read)."""
    from redis import Redis

    client = Redis.from_url(url, decode_responses=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        reading = [c for c in client.client_list() if c.get("cmd") == "xreadgroup"]
        if len(reading) >= count:
            client.close()
            return
        time.sleep(0.1)
    raise SystemExit("the redis workers did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        local_s = local(Path(tmp) / "local", args.runs, args.workers)
        redis_s = redis(Path(tmp) / "redis", args.runs, args.workers)
    print(f"{args.runs} runs of a one-step pipeline, {args.workers} worker processes each")
    print(f"local queue (LocalInvoker + worker HTTP):  {args.runs / local_s:7.1f} runs/s")
    print(f"redis stream (scd worker --redis):         {args.runs / redis_s:7.1f} runs/s")
    print(f"redis / local:                             {local_s / redis_s:7.2f}")


if __name__ == "__main__":
    main()
