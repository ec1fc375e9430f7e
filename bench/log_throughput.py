"""Log throughput: one step printing N MB of short lines, secrets masked, to the file sink.

Baseline: the same generating command redirected to a file (`> file`). Ours:
`scd run` of a one-step pipeline running that command, with 10 secrets
registered (`--secret`), logs to the file sink (framed, timestamped, masked),
console output to /dev/null. Prints MB/s of each, the ratio (goal >= 0.5x) and
scd's peak RSS, children included (goal < 150 MB), measured by a wrapper
process with getrusage(RUSAGE_CHILDREN): the largest resident set of scd or
any process it started. Also prints how long the same run takes when its step
prints nothing (scd's start-up and teardown, part of ours).

Needs: bash, yes, head (coreutils) and scd installed in the running
interpreter's environment (`uv run python bench/log_throughput.py --mb 500`).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LINE = "a short line of log output 0123456789"
WRAPPER = """
import resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
elapsed = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(code, elapsed, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""


def scd_command() -> str:
    beside = Path(sys.executable).parent / "scd"
    found = str(beside) if beside.exists() else shutil.which("scd")
    if found is None:
        sys.exit("scd is not installed here: run with `uv run python bench/log_throughput.py`")
    return found


def measure(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, float]:
    """Run ``argv`` under the wrapper: (seconds, peak RSS in KB, CPU seconds); exit if it fails."""
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    out = done.stdout.split()
    if out[0] != "0":
        sys.exit(f"{argv[0]} failed with exit code {out[0]}:\n{done.stderr[-2000:]}")
    return float(out[1]), int(out[2]), float(out[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=500, help="megabytes to print (default 500)")
    parser.add_argument("--secrets", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3, help="turns each (best counts)")
    args = parser.parse_args()
    missing = [tool for tool in ("bash", "yes", "head") if shutil.which(tool) is None]
    if missing:
        print(f"skipped: {', '.join(missing)} not installed")
        return
    scd = scd_command()
    size = args.mb * 1_000_000
    # Process substitution: yes dies of SIGPIPE, which pipefail would count as a failure.
    command = f"head -c {size} < <(yes '{LINE}')"
    names = [f"BENCH_SECRET_{i}" for i in range(args.secrets)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({name: secrets.token_hex(12) for name in names})
    with tempfile.TemporaryDirectory(prefix="scd-bench-") as tmp:
        work = Path(tmp)
        env_lines = "".join(f"      {n}: ${{{{ secrets.{n} }}}}\n" for n in names)
        for name, run in (("pipe", command), ("idle", "true")):
            (work / f"{name}.yaml").write_text(
                f"name: throughput\nsteps:\n  - id: print\n    env:\n{env_lines}"
                f"    run: {json.dumps(run)}\n"
            )
        argv = [scd, "run", "pipe.yaml", "--data-dir", "d"]
        for name in names:
            argv += ["--secret", name]
        # The same run printing nothing: what scd's start-up and teardown take of ours.
        idle_argv = [scd, "run", "idle.yaml", *argv[3:]]
        subprocess.run([scd, "--help"], env=env, capture_output=True, check=True)  # warm-up
        baseline = ours = idle = float("inf")
        base_cpu = ours_cpu = 0.0
        rss_kb = logged = 0
        # Turns alternate so that noise from other work on the machine hits both alike.
        for _ in range(args.repeat):
            elapsed, _, cpu = measure(["bash", "-c", f"{command} > baseline.log"], work, env)
            if elapsed < baseline:
                baseline, base_cpu = elapsed, cpu
            (work / "baseline.log").unlink()
            elapsed, rss, cpu = measure(argv, work, env)
            if elapsed < ours:
                ours, ours_cpu = elapsed, cpu
            rss_kb = max(rss_kb, rss)
            idle = min(idle, measure(idle_argv, work, env)[0])
            logs = work / "d" / "logs"
            logged = sum(p.stat().st_size for p in logs.rglob("*") if p.is_file())
            shutil.rmtree(logs)
    mb = size / 1_000_000
    print(f"printed: {mb:.0f} MB of {len(LINE) + 1}-byte lines, {args.secrets} secrets masked")
    print(f"best of {args.repeat}, taking turns; CPU = user + system of all processes")
    print(f"baseline  > file : {baseline:7.2f} s  {mb / baseline:8.1f} MB/s  CPU {base_cpu:5.2f} s")
    print(
        f"ours      scd run: {ours:7.2f} s  {mb / ours:8.1f} MB/s  CPU {ours_cpu:5.2f} s"
        f"  (log {logged / 1e6:.0f} MB: each line framed with a timestamp)"
    )
    print(f"  of which start-up and teardown (the same run printing nothing): {idle:.2f} s")
    ratio = baseline / ours
    print(f"ratio ours/baseline: {ratio:.2f}x ({'meets' if ratio >= 0.5 else 'misses'} 0.5x)")
    rss_mb = rss_kb / 1024
    verdict = "meets" if rss_mb < 150 else "misses"
    print(f"peak RSS (scd and children): {rss_mb:.0f} MB ({verdict} 150 MB)")


if __name__ == "__main__":
    main()
