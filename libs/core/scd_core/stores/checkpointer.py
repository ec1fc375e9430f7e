"""``Checkpointer``: copies a SQLite WAL back into the database off the request path.

SQLite's automatic checkpoint runs inside whichever commit crosses its threshold
(1000 pages by default), and its fsync makes that one call take 10 to 25 ms: on the
webhook hot path it was the p99. A background thread with its own connection runs
a ``PASSIVE`` checkpoint every ``interval_s`` instead. Passive checkpoints never
block writers or readers, and several processes may each run one (a busy turn is
skipped). Short, frequent checkpoints keep each fsync small,
which matters because on ext4 a large fsync also stalls other writers' appends.
When writes pause, the checkpoint catches up and the next write restarts the WAL
from its beginning.

Under a steady stream of writes a passive checkpoint never quite reaches the end of
the WAL, so the WAL keeps growing; the store's ``wal_autocheckpoint`` (the safety
net, about 32 MB) then runs one checkpoint in a writer, whose pages this thread has
mostly copied already, and the WAL restarts. That call is the slow one of a burst.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

__all__ = ["Checkpointer"]

log = logging.getLogger(__name__)


class Checkpointer:
    """A daemon thread checkpointing the WAL of ``path`` every ``interval_s`` seconds."""

    def __init__(self, path: Path, *, interval_s: float = 0.05) -> None:
        self._path = path
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="scd-sqlite-checkpoint", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def halt(self) -> None:
        """Ask the thread to stop without waiting (safe from a finaliser)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop the thread and wait for it; idempotent."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        try:
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:  # the autocheckpoint safety net still bounds the WAL
            log.warning("no background checkpoints for %s: %s", self._path, exc)
            return
        try:
            while not self._stop.wait(self._interval):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # a busy or failed turn; the next one retries
                    log.debug("checkpoint of %s skipped: %s", self._path, exc)
        finally:
            db.close()
