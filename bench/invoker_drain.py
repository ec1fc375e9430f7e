"""Dispatch and drain rates of ``LocalInvoker`` against the same HTTP posts made directly.

Two trivial worker endpoints (``POST /invoke`` answers 200 at once) run in their own
processes. Ours: ``dispatch`` N jobs into a fresh queue file (dispatch/s: durable
enqueue only, no delivery yet), then ``start()`` with both endpoints and time until
every task is ``Succeeded`` (drained/s: claim, post, record, on_success). Baseline:
two threads post the same bodies with the same headers straight to the same two
endpoints, a fresh connection per post as the invoker makes. The job carries
GitHub's 8.8 KB push payload from ``../shared/corpus`` when present, otherwise a
synthetic one of the same size. Needs nothing beyond the locked dependencies.

Usage: ``uv run python bench/invoker_drain.py [jobs]`` (default 1000).
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from scd_core.invokers.local import LocalInvoker
from scd_core.models import Event, Job

__all__ = ["main"]

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
PUSH = CORPUS / "webhooks" / "github" / "push__with-new-branch.payload.json"

SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def payload() -> dict[str, Any]:
    """GitHub's push payload from the corpus, or a synthetic one of about 9 KB."""
    if PUSH.exists():
        loaded: dict[str, Any] = json.loads(PUSH.read_text())
        return loaded
    commits = [
        {"id": f"{i:040x}", "message": "fix: things " * 8, "added": [f"src/f{i}.py"] * 4}
        for i in range(12)
    ]
    return {"ref": "refs/heads/main", "commits": commits, "repository": {"name": "web"}}


def make_jobs(count: int) -> list[Job]:
    body = payload()
    event = Event(provider="github", event_name="push", ref="refs/heads/main", payload=body)
    return [Job(id=f"run-{n:06d}", app="web", event=event, commit="a" * 40) for n in range(count)]


def ours(jobs: list[Job], endpoints: list[str], db: Path) -> tuple[float, float]:
    """(dispatch/s, drained/s) of a fresh LocalInvoker on ``db``."""
    done = threading.Event()
    finished = [0]

    def on_success(job: Job, result: object) -> None:
        finished[0] += 1  # one delivery thread at a time per endpoint; the GIL guards +=
        if finished[0] == len(jobs):
            done.set()

    invoker = LocalInvoker(db, endpoints, on_success=on_success, on_failure=print)
    try:
        started = time.perf_counter()
        for job in jobs:
            invoker.dispatch(job)
        dispatched = time.perf_counter() - started
        started = time.perf_counter()
        invoker.start()
        if not done.wait(300):
            raise SystemExit(f"drain stalled: {invoker.counts()}")
        drained = time.perf_counter() - started
    finally:
        invoker.close()
    return len(jobs) / dispatched, len(jobs) / drained


def baseline(jobs: list[Job], endpoints: list[str]) -> float:
    """Posts per second of two threads posting the same jobs straight to the endpoints."""
    bodies = [job.model_dump_json().encode() for job in jobs]

    def post_all(endpoint: str, share: list[bytes], ids: list[str]) -> None:
        port = int(endpoint.rsplit(":", 1)[1])
        for body, job_id in zip(share, ids, strict=True):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {
                "content-type": "application/json",
                "x-fc-request-id": str(uuid.uuid4()),
                "x-fc-async-task-id": job_id,
                "x-fc-invocation-type": "Async",
                "x-fc-control-path": "/invoke",
            }
            conn.request("POST", "/invoke", body, headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status != 200:
                raise SystemExit(f"baseline post answered {response.status}")

    ids = [job.id for job in jobs]
    threads = [
        threading.Thread(target=post_all, args=(url, bodies[i::2], ids[i::2]))
        for i, url in enumerate(endpoints)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(jobs) / (time.perf_counter() - started)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    jobs = make_jobs(count)
    servers = [
        subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        endpoints = []
        for server in servers:
            assert server.stdout is not None
            endpoints.append(f"http://127.0.0.1:{int(server.stdout.readline())}")
        baseline(jobs[:100], endpoints)  # warm-up
        direct = baseline(jobs, endpoints)
        with tempfile.TemporaryDirectory() as tmp:
            dispatch_rate, drain_rate = ours(jobs, endpoints, Path(tmp) / "queue.db")
    finally:
        for server in servers:
            server.kill()
            server.wait()
    body_kb = len(jobs[0].model_dump_json()) / 1024
    print(f"{count} jobs of {body_kb:.1f} KB, 2 endpoints (worker processes), loopback")
    print(f"dispatch (durable enqueue):   {dispatch_rate:8.0f} jobs/s")
    print(f"drain (claim, post, record):  {drain_rate:8.0f} jobs/s")
    print(f"baseline (direct posts):      {direct:8.0f} posts/s")
    print(f"drain / baseline:             {drain_rate / direct:8.2f}")


if __name__ == "__main__":
    main()
