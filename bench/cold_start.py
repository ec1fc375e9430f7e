"""Cold start: process start to the first 202 answer, the scd trigger vs a bare Starlette app.

Each repeat starts a fresh ``python -m uvicorn`` process (one process, loopback),
then posts the signed GitHub push from ``webhook_throughput.py`` every few
milliseconds until it gets a 202; the time from ``Popen`` to that answer is one
sample. The scd trigger loads its scd.yaml, opens a fresh SQLite store and the
memory invoker in its lifespan and records the run; the bare app (``bare_app``
in ``webhook_throughput.py``) only reads the body. Both run in the same way,
alternately, so machine load affects them alike.

Bytecode: a deployed function ships compiled bytecode (its code directory is
read-only, so Python could not cache it there), so by default both servers start
with a bytecode cache: ``PYTHONPYCACHEPREFIX`` points at a temporary directory that
one unmeasured start of each fills (``PYTHONDONTWRITEBYTECODE`` is dropped for the
children). ``--no-bytecode-cache`` measures the worst case instead, every module
compiled from source at every start (what ``PYTHONDONTWRITEBYTECODE=1`` without a
cache does); scd imports more modules than the bare app, so it pays more for that.

``--fc`` adds a third server: the scd trigger with the ``fc`` invoker
(``SCD_INVOKER=fc://...``) pointed at the loopback FC double started here, so its
first 202 includes the signed InvokeFunction; ``scd+fc / scd`` is what the FC
client adds to a cold start.

Usage: ``uv run python bench/cold_start.py [--repeat 10] [--no-bytecode-cache] [--fc]``.
Prints the median and spread of each and the ratio. Goal: scd <= 1.5x bare. Needs
nothing beyond the project's dependencies.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import webhook_throughput as wt  # found through the path set above
from netutil import free_port  # webhook_throughput put tests/ on the path

ROOT = wt.ROOT


def first_202(command: list[str], env: dict[str, str], port: int, body: bytes) -> float:
    """Seconds from starting ``command`` to its first 202 answer to the push."""
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "cold-start",
        "X-Hub-Signature-256": wt.signature(body),
    }
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("POST", "/webhooks/web", body=body, headers=headers)
                status = conn.getresponse().status
                conn.close()
            except OSError:
                time.sleep(0.003)
                continue
            if status != 202:
                raise RuntimeError(f"first answer was {status}, not 202")
            return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="compile every module from source at every start (the worst case)",
    )
    parser.add_argument(
        "--fc", action="store_true", help="also the trigger with the fc invoker (FC double)"
    )
    args = parser.parse_args()
    body, branch = wt.push_body()
    samples: dict[str, list[float]] = {"bare": [], "scd": []}
    fc_env: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if args.fc:
            samples["scd+fc"] = []
            fc_env = _fc_double(stack)
        _measure(args, body, branch, samples, fc_env)
    mode = "compiled from source" if args.no_bytecode_cache else "with a bytecode cache"
    print(f"modules {mode}")
    print(f"{'server':<8}{'median ms':>11}{'min ms':>9}{'max ms':>9}   ({args.repeat} starts each)")
    for name, values in samples.items():
        ms = [v * 1000 for v in values]
        print(f"{name:<8}{statistics.median(ms):>11.0f}{min(ms):>9.0f}{max(ms):>9.0f}")
    ratio = statistics.median(samples["scd"]) / statistics.median(samples["bare"])
    print(f"scd / bare = {ratio:.2f}x (goal <= 1.5)")
    if args.fc:
        with_fc = statistics.median(samples["scd+fc"])
        print(f"scd+fc / scd = {with_fc / statistics.median(samples['scd']):.2f}x")
        print(f"scd+fc / bare = {with_fc / statistics.median(samples['bare']):.2f}x")


def _fc_double(stack: contextlib.ExitStack) -> dict[str, str]:
    """Start the loopback FC double; the variables that point a trigger at it."""
    from scd_core.invokers.fcdouble import FcDouble

    double = stack.enter_context(FcDouble({"LTAI-bench": "bench-secret"}))
    return {
        "SCD_INVOKER": f"fc://1234567890123456.cn-hangzhou/scd-worker?endpoint={double.url}",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI-bench",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "bench-secret",
    }


def _measure(
    args: argparse.Namespace,
    body: bytes,
    branch: str,
    samples: dict[str, list[float]],
    fc_env: dict[str, str],
) -> None:
    with tempfile.TemporaryDirectory(prefix="scd-cold-") as tmp:
        work = Path(tmp)
        config = work / "scd.yaml"
        config.write_text(wt.CONFIG.format(secret=wt.SECRET, branch=branch), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if args.no_bytecode_cache:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env.pop("PYTHONPYCACHEPREFIX", None)
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
            _fill_bytecode_cache(env, config, work, body)
            if fc_env:
                _fill_bytecode_cache({**env, **fc_env}, config, work / "fc", body, bare=False)
        for n in range(args.repeat):
            port = free_port()
            bare = wt.uvicorn_command("webhook_throughput:bare_app", port, ROOT / "bench")
            samples["bare"].append(first_202(bare, env, port, body))
            port = free_port()
            ours_env = {**env, "SCD_CONFIG": str(config), "SCD_DATA_DIR": str(work / f"s{n}")}
            ours = wt.uvicorn_command("functions.trigger.app:app", port)
            samples["scd"].append(first_202(ours, ours_env, port, body))
            if fc_env:
                port = free_port()
                fc_run = {**ours_env, **fc_env, "SCD_DATA_DIR": str(work / f"f{n}")}
                fc_cmd = wt.uvicorn_command("functions.trigger.app:app", port)
                samples["scd+fc"].append(first_202(fc_cmd, fc_run, port, body))


def _fill_bytecode_cache(
    env: dict[str, str], config: Path, work: Path, body: bytes, *, bare: bool = True
) -> None:
    """One unmeasured start of each server, which writes the bytecode cache."""
    if bare:
        port = free_port()
        command = wt.uvicorn_command("webhook_throughput:bare_app", port, ROOT / "bench")
        first_202(command, env, port, body)
    port = free_port()
    ours_env = {**env, "SCD_CONFIG": str(config), "SCD_DATA_DIR": str(work / "warm")}
    first_202(wt.uvicorn_command("functions.trigger.app:app", port), ours_env, port, body)


if __name__ == "__main__":
    main()
