"""Per-call time of ``SqliteRunStore.create_run`` (the webhook hot path) against a bare INSERT.

Both sides write to a fresh SQLite file in WAL mode with ``synchronous=NORMAL`` and the
same table and indexes. The baseline executes a plain ``INSERT`` of values prepared in
advance (the event JSON serialised once); ours builds nothing in advance: it
serialises the ``Run`` (event payload included), checks dedup and inserts. The event
payload is GitHub's 8.8 KB push from ``../shared/corpus`` when present, otherwise a
synthetic payload of the same size. Needs nothing beyond the locked dependencies.

Usage: ``uv run python bench/store_create_run.py [calls]`` (default 5000).
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scd_core.models import Run, utcnow
from scd_core.stores.sqlite import SqliteRunStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import factories  # found through the path set above

__all__ = ["main"]

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
PUSH = CORPUS / "webhooks" / "github" / "push__with-new-branch.payload.json"
WARMUP = 300
ROUNDS = 10


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


def make_run(n: int, body: dict[str, Any]) -> Run:
    """Run ``n`` of the tests' factory, created now, with ``body`` as its payload."""
    return factories.make_run(f"{n:08d}", payload=body, created_at=utcnow())


Action = Callable[[int], object]


def time_calls(indices: range, action: Action) -> list[float]:
    """Microseconds per call of ``action(i)`` for each i in ``indices``."""
    times = []
    for i in indices:
        start = time.perf_counter_ns()
        action(i)
        times.append((time.perf_counter_ns() - start) / 1000)
    return times


def ours(directory: Path, calls: int, body: dict[str, Any]) -> tuple[Action, Callable[[], None]]:
    store = SqliteRunStore(directory / "ours.db")
    runs = {i: make_run(i, body) for i in range(-WARMUP, calls)}  # building one is the caller's
    return (lambda i: store.create_run(runs[i])), store.close


def baseline(
    directory: Path, calls: int, body: dict[str, Any], *, autocheckpoint: bool
) -> tuple[Action, Callable[[], None]]:
    db = sqlite3.connect(directory / f"bare-{autocheckpoint}.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    if not autocheckpoint:
        db.execute("PRAGMA wal_autocheckpoint = 0")
    db.executescript(
        """
        CREATE TABLE runs (id TEXT PRIMARY KEY, dedup_key TEXT NOT NULL UNIQUE,
            app TEXT NOT NULL, status TEXT NOT NULL, created_us INTEGER NOT NULL,
            version INTEGER NOT NULL, data TEXT NOT NULL);
        CREATE INDEX runs_by_app ON runs (app, created_us, id);
        CREATE INDEX runs_by_time ON runs (created_us, id);
        CREATE INDEX runs_by_status ON runs (status, created_us, id);
        """
    )
    data = make_run(0, body).model_dump_json()
    rows = {
        i: (f"run-{i:08d}", f"github:delivery-{i}", "web", "queued", 1_700_000_000 + i, 0, data)
        for i in range(-WARMUP, calls)
    }
    sql = "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)"
    return (lambda i: db.execute(sql, rows[i])), db.close


def summary(name: str, times: list[float]) -> tuple[float, float]:
    """Print mean, p50 and p99; return (mean, p50)."""
    ordered = sorted(times)
    mean = statistics.fmean(times)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[int(len(ordered) * 0.99)]
    print(f"{name:<40} mean {mean:7.1f} us   p50 {p50:7.1f} us   p99 {p99:8.1f} us")
    return mean, p50


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    body = payload()
    size = len(json.dumps(body))
    print(f"create_run on SQLite (WAL, synchronous=NORMAL), {calls} calls, payload {size} bytes")
    print(f"(the three writers take turns in {ROUNDS} rounds, so machine noise hits them alike)")
    with tempfile.TemporaryDirectory() as tmp:
        writers = {
            "baseline: bare INSERT": baseline(Path(tmp), calls, body, autocheckpoint=True),
            "baseline: bare INSERT, checkpoints off": baseline(
                Path(tmp), calls, body, autocheckpoint=False
            ),
            "SqliteRunStore.create_run": ours(Path(tmp), calls, body),
        }
        times: dict[str, list[float]] = {name: [] for name in writers}
        for action, _ in writers.values():
            time_calls(range(-WARMUP, 0), action)
        step = -(-calls // ROUNDS)
        for start in range(0, calls, step):
            for name, (action, _) in writers.items():
                times[name] += time_calls(range(start, min(start + step, calls)), action)
        for _, close in writers.values():
            close()
    (bare, bare50), (off, off50), (mine, mine50) = (summary(n, t) for n, t in times.items())
    print(f"ratio create_run / bare INSERT: mean {mine / bare:.2f}x, p50 {mine50 / bare50:.2f}x")
    print(
        f"ratio create_run / bare INSERT, checkpoints off: "
        f"mean {mine / off:.2f}x, p50 {mine50 / off50:.2f}x"
    )


if __name__ == "__main__":
    main()
