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
the WAL, so the WAL keeps growing. Left alone, the store's ``wal_autocheckpoint``
(the safety net, about 32 MB) would then run one checkpoint inside a writer's
commit: 40 to 80 ms under a burst of webhooks, every few seconds, and the p99.
So once the WAL holds ``restart_frames`` frames, right after a passive checkpoint
has copied at least half of them, this thread runs a ``RESTART`` checkpoint: it
waits for the write lock (at most ``restart_wait_s``, else it tries again next
turn), copies what is left and lets the next writer start the WAL from its
beginning. Writers wait for that short copy instead of a long one. The owner of
the store passes its connection ``lock``, which this thread holds during a
restart, so the owner's writers wake the moment it ends; SQLite's busy handler,
which writers in other processes wait in, sleeps in steps of up to tens of ms.

Fork: ``os.fork()`` waits for every running turn to end (a gate held during each
turn and taken by a fork handler), because a child forked while this thread was
inside SQLite would inherit SQLite's process-wide mutexes locked, and its first
``sqlite3.connect`` would hang forever.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from pathlib import Path

__all__ = ["Checkpointer"]

log = logging.getLogger(__name__)

_live: weakref.WeakSet[Checkpointer] = weakref.WeakSet()
_held: list[threading.Lock] = []  # the gates a fork in progress holds


def _before_fork() -> None:
    _held[:] = [checkpointer._gate for checkpointer in list(_live)]
    for gate in _held:
        gate.acquire()


def _after_fork() -> None:
    for gate in _held:
        gate.release()
    _held.clear()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork
    )


class Checkpointer:
    """A daemon thread checkpointing the WAL of ``path`` every ``interval_s`` seconds."""

    def __init__(
        self,
        path: Path,
        *,
        interval_s: float = 0.05,
        restart_frames: int = 1024,
        restart_wait_s: float = 0.02,
        lock: threading.Lock | None = None,
    ) -> None:
        self._path = path
        self._lock = lock
        self._interval = interval_s
        self._restart_frames = restart_frames
        self._restart_wait_ms = round(restart_wait_s * 1000)
        self._stop = threading.Event()
        self._gate = threading.Lock()  # held while this thread is inside SQLite
        self._thread = threading.Thread(
            target=self._loop, name="scd-sqlite-checkpoint", daemon=True
        )
        _live.add(self)

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
            with self._gate:
                db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:  # the autocheckpoint safety net still bounds the WAL
            log.warning("no background checkpoints for %s: %s", self._path, exc)
            return
        try:
            with self._gate:
                db.execute(f"PRAGMA busy_timeout = {self._restart_wait_ms}")
            while not self._stop.wait(self._interval):
                try:
                    with self._gate:
                        self._turn(db)
                except sqlite3.Error as exc:  # a busy or failed turn; the next one retries
                    log.debug("checkpoint of %s skipped: %s", self._path, exc)
        finally:
            with self._gate:
                db.close()

    def _turn(self, db: sqlite3.Connection) -> None:
        """One passive checkpoint, and a restart when the WAL has grown long."""
        busy, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if busy or frames < self._restart_frames or copied < frames // 2:
            return
        lock = self._lock
        # bounded: the owner's close() holds its lock while it stops this thread
        if lock is not None and not lock.acquire(timeout=self._interval):
            return
        try:
            db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        finally:
            if lock is not None:
                lock.release()
