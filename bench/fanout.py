"""Fan-out latency: a task ends → its dependant's first step starts, through ``scd serve``.

What it measures: ``scd serve`` as a subprocess (2 worker processes, a tmp data
dir), one local repository. Each round pushes a commit whose pipeline is two
tasks, ``a → b``: ``a``'s one step prints a wall-clock timestamp as its last act,
``b``'s first step prints one as its first act. The latency is the difference:
``a``'s worker ending the task and deciding (one conditional store write), the
job of ``b`` enqueued, delivered to a worker, claimed, checked out (a cached
clone), the pipeline loaded, the step started.

Baseline in the same run: the same two steps as one task (``steps:``), so the
gap is only what the engine does between two steps. Printed: median and p95 of
each, and their ratio.

Needs: ``git``, ``date +%s.%N`` (GNU). Usage:
``uv run python bench/fanout.py [--rounds 15] [--workers 2]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from webhook_to_step import ROOT, Serve, make_repo, push_of

sys.path.insert(0, str(ROOT / "tests"))
from factories import commit

STAMP = "date +%s.%N"


def dag(marks: Path) -> str:
    return (
        "tasks:\n"
        f"  a: {{steps: [{{run: '{STAMP} > {marks}/end'}}]}}\n"
        f"  b: {{needs: a, steps: [{{run: '{STAMP} > {marks}/start'}}]}}\n"
    )


def one_task(marks: Path) -> str:
    return f"steps:\n  - run: '{STAMP} > {marks}/end'\n  - run: '{STAMP} > {marks}/start'\n"


def gap(serve: Serve, repo: Path, pipeline: str, marks: Path, n: int) -> float:
    marks.mkdir(parents=True)
    before_sha = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    after = commit(repo, {"serverless-pipeline.yaml": pipeline}, f"round {n}")
    run = serve.wait_final(serve.post(push_of(repo, before_sha, after)))
    if run["status"] != "success":
        raise SystemExit(f"round {n}: run {run['id']} ended {run['status']}")
    end = float((marks / "end").read_text())
    start = float((marks / "start").read_text())
    return start - end


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scd-fanout-") as tmp:
        root = Path(tmp)
        repo = root / "repo"
        make_repo(repo, one_task(root / "warm"))
        serve = Serve(root / "serve", workers=args.workers)
        try:
            gap(serve, repo, dag(root / "w1"), root / "w1", 0)  # warm both paths' imports
            gap(serve, repo, one_task(root / "w2"), root / "w2", 0)
            fan: list[float] = []
            steps: list[float] = []
            for n in range(1, args.rounds + 1):  # interleaved: same machine state for both
                fan.append(gap(serve, repo, dag(root / f"d{n}"), root / f"d{n}", n))
                steps.append(gap(serve, repo, one_task(root / f"s{n}"), root / f"s{n}", n))
        finally:
            serve.stop()
    fm, sm = statistics.median(fan), statistics.median(steps)
    print(f"rounds: {args.rounds}, workers: {args.workers}")
    print(f"fan-out a→b (two tasks):  median {fm * 1000:8.1f} ms   p95 {p95(fan) * 1000:8.1f} ms")
    print(f"next step (one task):     median {sm * 1000:8.1f} ms   p95 {p95(steps) * 1000:8.1f} ms")
    print(f"ratio (median): {fm / sm:.1f}x")


if __name__ == "__main__":
    main()
