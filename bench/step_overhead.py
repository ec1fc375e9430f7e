"""Per-step overhead: 200 trivial steps through `scd run` against a bash loop.

Baseline: a bash loop running `bash -e -o pipefail -c true` N times (what a step
costs at least: one shell start). Ours: one `scd run` process (the real console
script, start-up included) running a pipeline of N `run: "true"` steps, logs to
the file sink, output to /dev/null. Prints ms per step of each, our overhead
per step ((ours - baseline) / N) against the 3 ms goal, and, apart, the
start-up of `scd run` on a one-step pipeline. Each command runs --repeat times,
taking turns; the best run counts (the least disturbed by other work). Last, the
same figures in CPU time (user + system of each process tree): on a loaded
machine wall time includes waiting for a CPU, and CPU time mostly does not.

Needs: bash, and scd installed in the running interpreter's environment
(`uv run python bench/step_overhead.py`).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_MS = 3.0


def scd_command() -> str:
    beside = Path(sys.executable).parent / "scd"
    found = str(beside) if beside.exists() else shutil.which("scd")
    if found is None:
        sys.exit("scd is not installed here: run with `uv run python bench/step_overhead.py`")
    return found


def installed_env() -> dict[str, str]:
    """The environment of an installed scd: bytecode caches may be written and used
    (PYTHONDONTWRITEBYTECODE would make every start compile every module again)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system of the whole process tree)."""
    before = _children_cpu()
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - started, _children_cpu() - before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def best_in_turns(repeat: int, commands: list[list[str]], cwd: Path) -> list[Figures]:
    """Each command's figures; turns alternate so machine noise hits all alike."""
    env = installed_env()
    for argv in commands:
        timed(argv, cwd, env)  # warm-up: bytecode caches, page cache
    runs: list[list[tuple[float, float]]] = [[] for _ in commands]
    for _ in range(repeat):
        for i, argv in enumerate(commands):
            runs[i].append(timed(argv, cwd, env))
    return [Figures(r) for r in runs]


class Figures:
    """One command's runs: best and median wall time, best CPU time (seconds)."""

    def __init__(self, runs: list[tuple[float, float]]) -> None:
        walls = sorted(w for w, _ in runs)
        self.wall = walls[0]
        self.median = walls[len(walls) // 2]
        self.cpu = min(c for _, c in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--data-dir",
        help="scd's --data-dir (logs); default: inside the bench's temp dir. The file sink"
        " creates two files per step, so a busy disk shows here (try /dev/shm/x).",
    )
    args = parser.parse_args()
    if shutil.which("bash") is None:
        print("skipped: bash is not installed")
        return
    scd = scd_command()
    n = args.steps
    with tempfile.TemporaryDirectory(prefix="scd-bench-") as tmp:
        work = Path(tmp)
        data_dir = args.data_dir or str(work / "d")
        steps = "".join('  - run: "true"\n' for _ in range(n))
        (work / "many.yaml").write_text(f"name: overhead\nsteps:\n{steps}")
        (work / "one.yaml").write_text('name: one\nsteps:\n  - run: "true"\n')
        loop = f"for i in $(seq {n}); do bash -e -o pipefail -c true; done"
        baseline, ours, one = best_in_turns(
            args.repeat,
            [
                ["bash", "-c", loop],
                [scd, "run", "many.yaml", "--data-dir", data_dir],
                [scd, "run", "one.yaml", "--data-dir", data_dir],
            ],
            work,
        )
    report(n, args.repeat, args.data_dir or "a temp dir", baseline, ours, one)


def report(n: int, repeat: int, where: str, baseline: Figures, ours: Figures, one: Figures) -> None:
    """Wall figures (best of the turns) as the goal reads, then CPU figures, which a
    loaded machine disturbs less (waiting for a CPU is not counted)."""
    base_ms, ours_ms = baseline.wall * 1000 / n, ours.wall * 1000 / n
    overhead = (ours.wall - baseline.wall) * 1000 / n
    startup_ms = one.wall * 1000 - base_ms
    steady = (ours.wall - one.wall) * 1000 / (n - 1) - base_ms if n > 1 else float("nan")
    print(f"steps: {n} (best of {repeat}, taking turns); logs in {where}")
    print(
        f"baseline  bash loop : {baseline.wall:7.3f} s  {base_ms:6.2f} ms/step"
        f"  (median {baseline.median:.3f} s)"
    )
    print(
        f"ours      scd run   : {ours.wall:7.3f} s  {ours_ms:6.2f} ms/step"
        f"  (median {ours.median:.3f} s)"
    )
    print(f"ratio ours/baseline : {ours.wall / baseline.wall:7.2f}x")
    verdict = "meets" if overhead < GOAL_MS else "misses"
    print(f"overhead per step   : {overhead:6.2f} ms ({verdict} the {GOAL_MS:g} ms goal)")
    print(f"  of which start-up : {startup_ms:6.0f} ms once ({startup_ms / n:.2f} ms/step)")
    print(f"  steady per step   : {steady:6.2f} ms over the shell start")
    cpu_base, cpu_one = baseline.cpu * 1000 / n, one.cpu * 1000 - baseline.cpu * 1000 / n
    cpu_overhead = (ours.cpu - baseline.cpu) * 1000 / n
    print(
        f"CPU: baseline {baseline.cpu:.3f} s, ours {ours.cpu:.3f} s: {cpu_overhead:.2f} ms/step"
        f" over {cpu_base:.2f}; start-up {cpu_one:.0f} ms once"
    )


if __name__ == "__main__":
    main()
