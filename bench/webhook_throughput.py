"""Webhook throughput and latency: the scd trigger vs a bare Starlette app (and adnanh/webhook).

What it measures: one uvicorn process per server (``--no-access-log``), loopback,
32 concurrent connections posting a signed ~9 KB GitHub push to ``main`` with a
unique ``X-GitHub-Delivery`` per request, so every request is a new run recorded
durably in a SQLite file (memory invoker). The baseline is a bare Starlette app
that reads the same body and answers 202. Optionally adnanh/webhook with an
HMAC-SHA256 rule and a ref match rule. And the floor (``floor_app.py``): a raw
ASGI app that only verifies, parses and durably records each delivery in
SQLite as scd's store does, which splits the gap between bare and scd into the
work's own cost and scd's.

Needs: ``wrk`` (Debian ``apt-get install -y wrk``) for the load; without it a small
asyncio keep-alive HTTP/1.1 client of ours is used. ``webhook`` (Debian package
``webhook``) is optional; its comparison is skipped without it.

Usage: ``uv run python bench/webhook_throughput.py [--duration 6] [--rounds 3]``
Each round measures every server back to back (the machine's load drifts); prints
each server's medians of req/s, p50, p99 and CPU per request, and the median of the
rounds' ratios. Goals: ours >= 0.5x bare, p99 < 20 ms, ours >= 1.0x webhook.

This module also defines ``bare_app`` (``uvicorn --app-dir bench webhook_throughput:bare_app``),
which ``cold_start.py`` uses too; importing it imports only Starlette.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # netutil: imports only socket

from netutil import free_port  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
CONFIG = """
apps:
  - name: web
    repo: https://github.com/acme/web.git
    provider: github
    secret: {secret}
    trigger:
      push: {{branches: [{branch}]}}
"""


async def _bare_webhook(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"run_id": "0", "status": "queued"}, status_code=202)


bare_app = Starlette(routes=[Route("/webhooks/{app}", _bare_webhook, methods=["POST"])])


CORPUS_PUSH = ROOT.parent / "shared" / "corpus" / "webhooks" / "github"
CORPUS_PUSH = CORPUS_PUSH / "push__with-new-branch.payload.json"


def push_body() -> tuple[bytes, str]:
    """The push every request carries and its branch: GitHub's 8.8 KB example if present."""
    if CORPUS_PUSH.exists():
        return CORPUS_PUSH.read_bytes(), "master"  # octokit's example pushes to master
    sys.path.insert(0, str(ROOT))
    from functions.trigger.testing import github_push

    return github_push("refs/heads/main", size=9000), "main"


def signature(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("server did not start")


def uvicorn_command(target: str, port: int, app_dir: Path | None = None) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", target, "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning"]
    if app_dir is not None:
        command += ["--app-dir", str(app_dir)]
    return command


# ---------------------------------------------------------------------------- load


WRK_SCRIPT = """
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end
function init(args)
  local f = io.open(args[1], "rb")
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-GitHub-Event"] = "push"
  wrk.headers["X-Hub-Signature-256"] = args[2]
  prefix = args[3] .. "-" .. thread_id .. "-"
end
function request()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = prefix .. counter
  return wrk.format(nil, nil)
end
"""


def run_wrk(
    url: str, body_file: Path, sig: str, tag: str, duration: float, conns: int
) -> dict[str, float]:
    script = body_file.with_suffix(".lua")
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    command = ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(duration))}s", "--latency"]
    command += ["-s", str(script), url, "--", str(body_file), sig, tag]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _wrk_ms(re.search(r"50%\s+([\d.]+)(us|ms|s)", out))
    p99 = _wrk_ms(re.search(r"99%\s+([\d.]+)(us|ms|s)", out))
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "p50": p50,
        "p99": p99,
        "requests": total,
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": 1 if errors else 0,
    }


def _wrk_ms(found: re.Match[str] | None) -> float:
    assert found is not None
    value, unit = float(found.group(1)), found.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


async def read_answer(reader: asyncio.StreamReader) -> bytes:
    """Read one HTTP/1.1 answer with a Content-Length body; its status line."""
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status_line


async def _one_connection(
    host: str, port: int, path: str, body: bytes, sig: str, tag: str, stop: float, lat: list[float]
) -> tuple[int, int]:
    reader, writer = await asyncio.open_connection(host, port)
    done = bad = 0
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: push\r\nX-Hub-Signature-256: {sig}\r\nContent-Length: {len(body)}\r\n"
    )
    while time.perf_counter() < stop:
        started = time.perf_counter()
        writer.write(f"{head}X-GitHub-Delivery: {tag}-{done}\r\n\r\n".encode() + body)
        status_line = await read_answer(reader)
        lat.append((time.perf_counter() - started) * 1000)
        done += 1
        if not status_line.split(b" ")[1].startswith(b"2"):
            bad += 1
    writer.close()
    return done, bad


def run_asyncio_load(
    url: str, body: bytes, sig: str, tag: str, duration: float, conns: int
) -> dict[str, float]:
    """Our fallback load generator: ``conns`` keep-alive connections for ``duration`` s."""
    found = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    assert found
    host, port, path = found.group(1), int(found.group(2)), found.group(3)
    latencies: list[float] = []

    async def main() -> list[tuple[int, int]]:
        stop = time.perf_counter() + duration
        jobs = [
            _one_connection(host, port, path, body, sig, f"{tag}-{i}", stop, latencies)
            for i in range(conns)
        ]
        return await asyncio.gather(*jobs)

    started = time.perf_counter()
    results = asyncio.run(main())
    elapsed = time.perf_counter() - started
    latencies.sort()
    total = sum(done for done, _ in results)
    return {
        "rps": total / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "requests": total,
        "non2xx": sum(bad for _, bad in results),
        "socket_errors": 0,
    }


def load(
    url: str, body: bytes, work: Path, tag: str, duration: float, conns: int
) -> dict[str, float]:
    sig = signature(body)
    if shutil.which("wrk"):
        body_file = work / "body.json"
        body_file.write_bytes(body)
        return run_wrk(url, body_file, sig, tag, duration, conns)
    return run_asyncio_load(url, body, sig, tag, duration, conns)


# ---------------------------------------------------------------------------- servers


def measure(
    name: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    url: str,
    body: bytes,
    work: Path,
    args: argparse.Namespace,
) -> dict[str, float]:
    proc = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        wait_for_port(port, proc)
        load(url, body, work, f"warm-{name}", args.warmup, args.connections)
        cpu_before = cpu_seconds(proc.pid)
        result = load(url, body, work, f"run-{name}", args.duration, args.connections)
        # CPU time per request does not depend on what else the machine is doing.
        cpu = cpu_seconds(proc.pid) - cpu_before
        result["cpu_us"] = cpu / max(result["requests"], 1) * 1e6
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return result


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its threads (Linux), or 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def webhook_hooks(work: Path, branch: str) -> Path:
    hooks = [
        {
            "id": "web",
            "execute-command": "/bin/true",
            "response-message": "queued",
            "success-http-response-code": 202,
            "trigger-rule": {
                "and": [
                    {
                        "match": {
                            "type": "payload-hmac-sha256",
                            "secret": SECRET,
                            "parameter": {"source": "header", "name": "X-Hub-Signature-256"},
                        }
                    },
                    {
                        "match": {
                            "type": "value",
                            "value": f"refs/heads/{branch}",
                            "parameter": {"source": "payload", "name": "ref"},
                        }
                    },
                ]
            },
        }
    ]
    path = work / "hooks.json"
    path.write_text(json.dumps(hooks), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument("--no-webhook", action="store_true", help="skip adnanh/webhook")
    args = parser.parse_args()
    body, branch = push_body()
    print(
        f"body {len(body)} bytes, {args.connections} connections, {args.duration:.0f} s each, "
        f"{args.rounds} interleaved rounds, "
        f"load: {'wrk' if shutil.which('wrk') else 'asyncio client (wrk not installed)'}"
    )
    if not shutil.which("webhook") and not args.no_webhook:
        print("adnanh/webhook not installed (apt-get install -y webhook): skipping it")
        args.no_webhook = True
    rounds: list[dict[str, dict[str, float]]] = []
    recorded = 0
    with tempfile.TemporaryDirectory(prefix="scd-bench-") as tmp:
        work = Path(tmp)
        for number in range(args.rounds):
            # the machine's load drifts: each round measures every server back to back
            rounds.append(_round(work / f"round-{number}", body, branch, args))
            with sqlite3.connect(work / f"round-{number}" / "state" / "scd.db") as db:
                table = _runs_table(db)
                if table:
                    recorded += db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    _report(rounds, recorded)


def _round(
    work: Path, body: bytes, branch: str, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """One measurement of each server, one after another."""
    work.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results: dict[str, dict[str, float]] = {}
    port = free_port()
    bare = uvicorn_command("webhook_throughput:bare_app", port, ROOT / "bench")
    url = f"http://127.0.0.1:{port}/webhooks/web"
    results["bare"] = measure("bare", bare, env, port, url, body, work, args)

    floor_env = {**env, "FLOOR_DB": str(work / "floor.db"), "FLOOR_SECRET": SECRET}
    floor_env["FLOOR_REF"] = f"refs/heads/{branch}"
    port = free_port()
    floor = uvicorn_command("floor_app:app", port, ROOT / "bench")
    url = f"http://127.0.0.1:{port}/webhooks/web"
    results["floor"] = measure("floor", floor, floor_env, port, url, body, work, args)

    (work / "scd.yaml").write_text(CONFIG.format(secret=SECRET, branch=branch), encoding="utf-8")
    ours_env = {**env, "SCD_CONFIG": str(work / "scd.yaml"), "SCD_DATA_DIR": str(work / "state")}
    port = free_port()
    ours = uvicorn_command("functions.trigger.app:app", port)
    url = f"http://127.0.0.1:{port}/webhooks/web"
    results["scd"] = measure("scd", ours, ours_env, port, url, body, work, args)

    if not args.no_webhook:
        port = free_port()
        hooks = str(webhook_hooks(work, branch))
        command = ["webhook", "-hooks", hooks, "-ip", "127.0.0.1", "-port", str(port)]
        url = f"http://127.0.0.1:{port}/hooks/web"
        results["webhook"] = measure("webhook", command, env, port, url, body, work, args)
    return results


def _report(rounds: list[dict[str, dict[str, float]]], recorded: int) -> None:
    """Each server's medians over the rounds, and the median of each round's ratio."""
    print(
        f"\n{'server':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'non-2xx':>9}"
        f"{'CPU us/req':>12}   (medians of {len(rounds)} rounds)"
    )
    for name in rounds[0]:
        row = {key: statistics.median([r[name][key] for r in rounds]) for key in rounds[0][name]}
        print(
            f"{name:<10}{row['rps']:>10.0f}{row['p50']:>10.2f}{row['p99']:>10.2f}"
            f"{row['requests']:>10.0f}{row['non2xx']:>9.0f}{row['cpu_us']:>12.0f}"
        )

    def ratio(key: str, top: str, bottom: str) -> float:
        return statistics.median([r[top][key] / r[bottom][key] for r in rounds])

    shown = ", ".join(f"{r['scd']['rps'] / r['bare']['rps']:.2f}" for r in rounds)
    print(f"\nruns recorded by scd: {recorded} (warm-ups included)")
    print(f"scd / bare      = {ratio('rps', 'scd', 'bare'):.2f}x   (goal >= 0.5; rounds: {shown})")
    p99 = statistics.median([r["scd"]["p99"] for r in rounds])
    print(f"scd p99         = {p99:.2f} ms (goal < 20)")
    print(
        f"CPU per request = {ratio('cpu_us', 'scd', 'bare'):.2f}x bare's"
        " (less sensitive to the machine's load)"
    )
    if "webhook" in rounds[0]:
        print(f"scd / webhook   = {ratio('rps', 'scd', 'webhook'):.2f}x   (goal >= 1.0)")
    floor_p99 = statistics.median([r["floor"]["p99"] for r in rounds])
    print(
        f"floor / bare    = {ratio('rps', 'floor', 'bare'):.2f}x, p99 {floor_p99:.2f} ms"
        "   (the least a durable receiver does: floor_app.py)"
    )
    print(f"scd / floor     = {ratio('rps', 'scd', 'floor'):.2f}x   (what scd spends on top)")


def _runs_table(db: sqlite3.Connection) -> str | None:
    names = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return "runs" if "runs" in names else next((n for n in names if "run" in n), None)


if __name__ == "__main__":
    main()
