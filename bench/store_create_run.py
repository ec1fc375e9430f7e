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
from pathlib import Path
from typing import Any

from scd_core.models import Event, Run
from scd_core.stores.sqlite import SqliteRunStore

__all__ = ["main"]

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
PUSH = CORPUS / "webhooks" / "github" / "push__with-new-branch.payload.json"
WARMUP = 300


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
    event = Event(
        provider="github",
        event_name="push",
        ref="refs/heads/main",
        branch="main",
        commit="a" * 40,
        delivery_id=f"delivery-{n}",
        payload=body,
    )
    return Run(id=f"run-{n:08d}", app="web", dedup_key=f"github:delivery-{n}", event=event)


def time_calls(calls: int, action: Any) -> list[float]:
    """Microseconds per call of ``action(i)`` for i in range(calls), after a warm-up."""
    for i in range(WARMUP):
        action(-1 - i)
    times = []
    for i in range(calls):
        start = time.perf_counter_ns()
        action(i)
        times.append((time.perf_counter_ns() - start) / 1000)
    return times


def ours(directory: Path, calls: int, body: dict[str, Any]) -> list[float]:
    store = SqliteRunStore(directory / "ours.db")
    runs = {i: make_run(i, body) for i in range(-WARMUP, calls)}  # building one is the caller's
    try:
        return time_calls(calls, lambda i: store.create_run(runs[i]))
    finally:
        store.close()


def baseline(
    directory: Path, calls: int, body: dict[str, Any], *, autocheckpoint: bool
) -> list[float]:
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
    try:
        return time_calls(calls, lambda i: db.execute(sql, rows[i]))
    finally:
        db.close()


def summary(name: str, times: list[float]) -> float:
    ordered = sorted(times)
    mean = statistics.fmean(times)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[int(len(ordered) * 0.99)]
    print(f"{name:<44} mean {mean:7.1f} us   p50 {p50:7.1f} us   p99 {p99:7.1f} us")
    return mean


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    body = payload()
    size = len(json.dumps(body))
    print(f"create_run on SQLite (WAL, synchronous=NORMAL), {calls} calls, payload {size} bytes")
    with tempfile.TemporaryDirectory() as tmp:
        bare = baseline(Path(tmp), calls, body, autocheckpoint=True)
        bare_mean = summary("baseline: bare INSERT", bare)
        unchecked = baseline(Path(tmp), calls, body, autocheckpoint=False)
        unchecked_mean = summary("baseline: bare INSERT, checkpoints off", unchecked)
        mine = summary("SqliteRunStore.create_run", ours(Path(tmp), calls, body))
    print(f"ratio create_run / bare INSERT: {mine / bare_mean:.2f}x (mean per call)")
    print(f"ratio create_run / bare INSERT, checkpoints off: {mine / unchecked_mean:.2f}x")


if __name__ == "__main__":
    main()
