"""The outbox: a durable SQLite table of deliveries (commit statuses, callbacks,
notifications) and their log.

Contract. ``add`` records a delivery at once (one INSERT; a second ``add`` with
the same ``dedup`` is a no-op, so a listener heard twice queues once) and is all
a lifecycle listener does on the writer's thread. ``claim_due`` hands a caller
the deliveries due now, each under a lease of ``lease_s`` seconds, so many
processes sharing the file never send one delivery twice at the same time;
``record`` stores the attempt's outcome: delivered, or the error with the next
try after an exponential backoff (``BACKOFF_S`` doubling up to ``MAX_BACKOFF_S``)
until the delivery's deadline passes, then ``failed``. A delivery of a
``group`` (a commit status context) is ``superseded`` when a newer one of the
same group exists, and is not claimed while another of its group is in flight,
so an old ``running`` sent late never hides the final state. ``prune`` forgets
finished deliveries older than ``KEEP_S``. Rows hold no secret: credentials are
added when sending. Thread-safe (one connection, one lock); the file survives
restarts, so do pending retries.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["BACKOFF_S", "KEEP_S", "MAX_BACKOFF_S", "Delivery", "DeliveryState", "Outbox"]

BACKOFF_S = 5.0
MAX_BACKOFF_S = 3600.0
KEEP_S = 30 * 86400.0  # how long the delivery log keeps a finished delivery
DeliveryState = Literal["pending", "delivered", "failed", "superseded"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    dedup TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL,
    app TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    grp TEXT,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_at REAL NOT NULL,
    deadline REAL NOT NULL,
    lease_until REAL NOT NULL DEFAULT 0,
    last_code INTEGER,
    last_error TEXT,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS deliveries_run ON deliveries (run_id, seq);
"""
_COLUMNS = (
    "id, run_id, app, kind, target, grp, event, payload, state, attempts, created_at,"
    " next_at, deadline, last_code, last_error, finished_at"
)


@dataclass(frozen=True)
class Delivery:
    """One delivery and where it stands (``payload``: what the sender needs, no secret)."""

    id: str
    run_id: str
    app: str
    kind: str
    target: str
    group: str | None
    event: str
    payload: dict[str, Any]
    state: str
    attempts: int
    created_at: float
    next_at: float
    deadline: float
    last_code: int | None
    last_error: str | None
    finished_at: float | None

    def public(self) -> dict[str, Any]:
        """What the API and the dashboard show (no payload: a callback body stays private)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "target": self.target,
            "event": self.event,
            "state": self.state,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "next_at": self.next_at if self.state == "pending" else None,
            "last_code": self.last_code,
            "last_error": self.last_error,
            "finished_at": self.finished_at,
        }


def _row(row: tuple[Any, ...]) -> Delivery:
    values = list(row)
    values[7] = json.loads(values[7])
    return Delivery(*values)


class Outbox:
    """The deliveries in the SQLite file at ``path``; see the module docstring."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 10.0) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode = WAL")
        # a run.queued insert is on the webhook's path: no fsync per insert (WAL with
        # NORMAL survives a crash of the process, which is what retries must outlive)
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file; idempotent."""
        with self._lock:
            self._db.close()

    def add(
        self,
        *,
        dedup: str,
        run_id: str,
        app: str,
        kind: str,
        target: str,
        event: str,
        payload: dict[str, Any],
        retry_for_s: float,
        group: str | None = None,
        now: float | None = None,
    ) -> bool:
        """Queue a delivery due now, retried until ``retry_for_s`` from now; whether new."""
        at = time.time() if now is None else now
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO deliveries (id, dedup, run_id, app, kind, target, grp,"
                " event, payload, created_at, next_at, deadline)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    uuid.uuid4().hex,
                    dedup,
                    run_id,
                    app,
                    kind,
                    target,
                    group,
                    event,
                    json.dumps(payload, separators=(",", ":")),
                    at,
                    at,
                    at + retry_for_s,
                ),
            )
            return cursor.rowcount == 1

    def claim_due(
        self, limit: int = 20, lease_s: float = 60.0, due_by: float | None = None
    ) -> list[Delivery]:
        """Take the deliveries due by ``due_by`` (default: now), oldest first, under a
        lease; superseded ones are marked so and left out."""
        now = time.time()
        due = now if due_by is None else min(now, due_by)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "UPDATE deliveries SET state = 'superseded', finished_at = ?"
                    " WHERE state = 'pending' AND grp IS NOT NULL AND lease_until <= ?"
                    " AND EXISTS (SELECT 1 FROM"
                    " deliveries AS newer WHERE newer.grp = deliveries.grp"
                    " AND newer.run_id = deliveries.run_id AND newer.seq > deliveries.seq)",
                    (now, now),
                )
                # a group's delivery waits while another of its group is in flight, so
                # statuses of one context reach the provider in the order they were made
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM deliveries WHERE state = 'pending'"  # noqa: S608
                    " AND next_at <= ? AND lease_until <= ? AND (grp IS NULL OR NOT EXISTS"
                    " (SELECT 1 FROM deliveries AS busy WHERE busy.grp = deliveries.grp"
                    " AND busy.run_id = deliveries.run_id AND busy.state = 'pending'"
                    " AND busy.lease_until > ?)) ORDER BY seq LIMIT ?",
                    (due, now, now, limit),
                ).fetchall()
                self._db.executemany(
                    "UPDATE deliveries SET lease_until = ? WHERE id = ?",
                    [(now + lease_s, row[0]) for row in rows],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [_row(row) for row in rows]

    def record(self, delivery_id: str, *, code: int | None, error: str | None) -> str:
        """Store an attempt's outcome (``error`` None: delivered); the new state."""
        now = time.time()
        with self._lock:
            row = self._db.execute(
                "SELECT attempts, deadline FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
            if row is None:
                return "failed"
            attempts = int(row[0]) + 1
            if error is None:
                state, next_at = "delivered", now
            else:
                next_at = now + min(BACKOFF_S * 2 ** (attempts - 1), MAX_BACKOFF_S)
                state = "pending" if next_at <= float(row[1]) else "failed"
            finished = None if state == "pending" else now
            self._db.execute(
                "UPDATE deliveries SET state = ?, attempts = ?, next_at = ?, lease_until = 0,"
                " last_code = ?, last_error = ?, finished_at = ? WHERE id = ?",
                (state, attempts, next_at, code, error, finished, delivery_id),
            )
        return state

    def redeliver(self, delivery_id: str, retry_for_s: float = 86400.0) -> Delivery | None:
        """Queue a delivery again, due now, whatever its state; None if unknown."""
        now = time.time()
        with self._lock:
            self._db.execute(
                "UPDATE deliveries SET state = 'pending', next_at = ?, deadline = ?,"
                " lease_until = 0, finished_at = NULL WHERE id = ?",
                (now, now + retry_for_s, delivery_id),
            )
        return self.get(delivery_id)

    def get(self, delivery_id: str) -> Delivery | None:
        """One delivery, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE id = ?",  # noqa: S608
                (delivery_id,),
            ).fetchone()
        return None if row is None else _row(row)

    def of_run(self, run_id: str, limit: int = 200) -> list[Delivery]:
        """The run's deliveries in the order they were queued."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE run_id = ?"  # noqa: S608
                " ORDER BY seq LIMIT ?",
                (run_id, limit),
            ).fetchall()
        return [_row(row) for row in rows]

    def prune(self, older_than_s: float = KEEP_S) -> int:
        """Forget finished deliveries older than ``older_than_s``; how many."""
        with self._lock:
            cursor = self._db.execute(
                "DELETE FROM deliveries WHERE state != 'pending' AND created_at < ?",
                (time.time() - older_than_s,),
            )
        return cursor.rowcount

    def in_flight(self) -> int:
        """How many deliveries some courier holds a lease on right now."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND lease_until > ?",
                (time.time(),),
            ).fetchone()
        return int(row[0])

    def next_due(self) -> float | None:
        """When the earliest pending delivery is due (epoch seconds), or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(MAX(next_at, lease_until)) FROM deliveries WHERE state = 'pending'"
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])
