"""A burst of 1,000 signed webhooks into ``scd serve``: every one a run, none lost, none twice.

What it measures: ``scd serve`` as a subprocess (2 worker processes, a tmp data
dir), one local repository whose pipeline is ``run: "true"``. A concurrent
client (asyncio streams, 64 keep-alive HTTP/1.1 connections) posts 1,000 signed GitHub pushes of the
same commit, each with its own ``X-GitHub-Delivery``, as fast as it can.

- **accepted/s**: 1,000 over the time from the first request sent to the last
  202 received;
- **drained/s**: 1,000 over the time from the first request to the last run
  ended (read from the run store).

Checks: exactly 1,000 distinct runs, all ``success``; in the invoker's queue,
1,000 tasks ``Succeeded``, each delivered once (no retry, one ``Running`` event).

Baseline in the same run, with the same client: the bare Starlette app of
``webhook_throughput.py`` (reads the body, answers 202) under uvicorn.

Needs: ``git``. Usage: ``uv run python bench/burst.py [--n 1000] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from netutil import free_port  # webhook_to_step put tests/ on the path
from webhook_throughput import read_answer
from webhook_to_step import ROOT, SECRET, Serve, make_repo

from functions.serve.demo import DemoPush, push_webhook

CONNECTIONS = 64


async def _connection(
    host: str, port: int, head: bytes, body: bytes, todo: list[int], tag: str
) -> int:
    """One keep-alive connection posting until ``todo`` is empty; how many got 202."""
    reader, writer = await asyncio.open_connection(host, port)
    accepted = 0
    while todo:
        n = todo.pop()
        # One write per request: headers and body in one segment (no Nagle stall).
        writer.write(head + f"X-GitHub-Delivery: {tag}-{n}\r\n\r\n".encode() + body)
        status_line = await read_answer(reader)
        accepted += status_line.split(b" ")[1] == b"202"
    writer.close()
    return accepted


async def post_all(
    url: str, body: bytes, headers: dict[str, str], n: int, app: str = "web"
) -> tuple[float, int]:
    """Post ``n`` deliveries over ``CONNECTIONS`` keep-alive connections (HTTP/1.1);
    (seconds until the last answer, how many got 202)."""
    host, port = url.removeprefix("http://").split(":")
    lines = [f"POST /webhooks/{app} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "x-github-delivery"]
    lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n").encode()
    todo = list(range(n))
    tag = uuid.uuid4().hex
    started = time.perf_counter()
    counts = await asyncio.gather(
        *(_connection(host, int(port), head, body, todo, tag) for _ in range(CONNECTIONS))
    )
    return time.perf_counter() - started, sum(counts)


def bare_baseline(body: bytes, headers: dict[str, str], n: int) -> float:
    """Accepted/s of the bare Starlette app with the same client."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "bench")]
    cmd += ["webhook_throughput:bare_app", "--port", str(port), "--no-access-log"]
    cmd += ["--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.post(f"{url}/webhooks/web", content=b"{}")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        seconds, accepted = asyncio.run(post_all(url, body, headers, n))
    finally:
        proc.terminate()
        proc.wait(30)
    return accepted / seconds


def count_runs(scd: Serve, n: int, timeout_s: float) -> tuple[dict[str, int], int, float]:
    """Wait until ``n`` runs ended; (runs by status, distinct run ids, seconds waited)."""
    from scd_core.stores import open_store

    store = open_store(f"sqlite:///{scd.data_dir / 'scd.db'}")
    started = time.perf_counter()
    try:
        while True:
            statuses: dict[str, int] = {}
            ids: set[str] = set()
            cursor: str | None = None
            while True:
                runs, cursor = store.list_runs(limit=1000, cursor=cursor)
                for run in runs:
                    statuses[run.status] = statuses.get(run.status, 0) + 1
                    ids.add(run.id)
                if cursor is None:
                    break
            ended = sum(v for k, v in statuses.items() if k not in ("queued", "running"))
            waited = time.perf_counter() - started
            if ended >= n or waited > timeout_s:
                return statuses, len(ids), waited
            time.sleep(0.05)
    finally:
        store.close()


def deliveries(scd: Serve) -> tuple[dict[str, int], int]:
    """The queue's tasks by status, and how many were delivered more than once."""
    from scd_core.invokers.local import LocalInvoker

    invoker = LocalInvoker(scd.data_dir / "queue.db")
    try:
        import sqlite3

        with sqlite3.connect(scd.data_dir / "queue.db") as db:
            ids = [row[0] for row in db.execute("SELECT id FROM tasks")]
        twice = 0
        for task_id in ids:
            task = invoker.task(task_id)
            runs = sum(1 for e in task.events if e.status == "Running") if task else 0
            twice += runs != 1 or (task is not None and task.already_retried_times > 0)
        return invoker.counts(), twice
    finally:
        invoker.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("git") is None:
        print("skipped: git is not installed")
        return
    with tempfile.TemporaryDirectory(prefix="scd-burst-") as tmp:
        work = Path(tmp)
        repo = work / "repo"
        head = make_repo(repo, 'steps:\n  - run: "true"\n', files=5)
        push = DemoPush(repo, "0" * 40, head, "burst", ["README.md"], [])
        body, headers = push_webhook(push, SECRET)
        bare = bare_baseline(body, headers, args.n)
        scd = Serve(work / "scd", workers=args.workers)
        try:
            app = scd.app_for(repo)
            started = time.perf_counter()
            seconds, accepted = asyncio.run(post_all(scd.url, body, headers, args.n, app))
            statuses, distinct, _ = count_runs(scd, args.n, timeout_s=1800)
            drained = time.perf_counter() - started
            tasks, twice = deliveries(scd)
        finally:
            scd.stop()
    print(f"burst of {args.n} signed webhooks, {CONNECTIONS} connections, {args.workers} workers")
    print(f"accepted: {accepted}/{args.n} in {seconds:.2f} s = {accepted / seconds:.0f}/s")
    print(f"bare Starlette, same client: {bare:.0f}/s (scd {accepted / seconds / bare:.2f}x)")
    print(f"drained: {args.n} runs ended in {drained:.1f} s = {args.n / drained:.1f} runs/s")
    print(f"runs by status: {statuses}; distinct run ids: {distinct}")
    print(f"queue tasks: {tasks}; delivered other than once: {twice}")
    ok = accepted == args.n and distinct == args.n and statuses.get("success") == args.n
    print("OK: every webhook one run, none lost, none twice" if ok and not twice else "MISMATCH")
    if not ok or twice:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
