"""Log throughput: one step printing N MB of short lines, secrets masked, to the file sink.

Baseline: the same generating command redirected to a file (`> file`). Ours:
`scd run` of a one-step pipeline running that command, with 10 secrets
registered (`--secret`), logs to the file sink (framed, timestamped, masked),
console output to /dev/null. Prints MB/s of each, the ratio (goal >= 0.5x) and
scd's peak RSS, children included (goal < 150 MB), measured by a wrapper
process with getrusage(RUSAGE_CHILDREN): the largest resident set of scd or
any process it started.

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
import time
from pathlib import Path

LINE = "a short line of log output 0123456789"
WRAPPER = """
import resource, subprocess, sys, time
started = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
elapsed = time.perf_counter() - started
print(code, elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def scd_command() -> str:
    beside = Path(sys.executable).parent / "scd"
    found = str(beside) if beside.exists() else shutil.which("scd")
    if found is None:
        sys.exit("scd is not installed here: run with `uv run python bench/log_throughput.py`")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=500, help="megabytes to print (default 500)")
    parser.add_argument("--secrets", type=int, default=10)
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
        started = time.perf_counter()
        subprocess.run(["bash", "-c", f"{command} > {work / 'baseline.log'}"], check=True)
        baseline = time.perf_counter() - started
        (work / "baseline.log").unlink()
        env_lines = "".join(f"      {n}: ${{{{ secrets.{n} }}}}\n" for n in names)
        (work / "pipe.yaml").write_text(
            f"name: throughput\nsteps:\n  - id: print\n    env:\n{env_lines}"
            f"    run: {json.dumps(command)}\n"
        )
        argv = [scd, "run", "pipe.yaml", "--data-dir", "d"]
        for name in names:
            argv += ["--secret", name]
        subprocess.run([scd, "--help"], env=env, capture_output=True, check=True)  # warm-up
        out = subprocess.run(
            [sys.executable, "-c", WRAPPER, *argv],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        code, ours, rss_kb = int(out[0]), float(out[1]), int(out[2])
        logged = sum(p.stat().st_size for p in (work / "d" / "logs").rglob("*") if p.is_file())
    if code != 0:
        sys.exit(f"scd run failed with exit code {code}")
    mb = size / 1_000_000
    print(f"printed: {mb:.0f} MB of {len(LINE) + 1}-byte lines, {args.secrets} secrets masked")
    print(f"baseline  > file : {baseline:7.2f} s  {mb / baseline:8.1f} MB/s")
    print(f"ours      scd run: {ours:7.2f} s  {mb / ours:8.1f} MB/s  (log {logged / 1e6:.0f} MB)")
    ratio = baseline / ours
    print(f"ratio ours/baseline: {ratio:.2f}x ({'meets' if ratio >= 0.5 else 'misses'} 0.5x)")
    rss_mb = rss_kb / 1024
    verdict = "meets" if rss_mb < 150 else "misses"
    print(f"peak RSS (scd and children): {rss_mb:.0f} MB ({verdict} 150 MB)")


if __name__ == "__main__":
    main()
