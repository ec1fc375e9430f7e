"""``SqliteConnection``: the connection of a SQLite run store, shared by its threads
and re-opened after ``fork()``.

Durability and speed: the file is in WAL mode with ``synchronous=NORMAL``. A commit
is then durable against any crash of the *process* (the WAL is written before the
call returns) and the database can never be corrupted; only an OS crash or power
loss may roll back the last few commits. That keeps ``create_run``, which is on the
webhook hot path, to one WAL append without an fsync.

Checkpoints (copying the WAL back into the database, with an fsync) run in a
background thread (``Checkpointer``), so no caller's commit pays for one.

Concurrency: each process holds one connection per store object, guarded by a lock,
so threads (the trigger's threadpool) take turns in Python instead of spinning in
SQLite's busy handler; processes coordinate through SQLite's file locks with a busy
timeout. The schema is brought to the current version on open
(``scd_core.stores.sqlite_schema``). A store object used after ``fork()`` opens its
own connection in the child.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scd_core.errors import BackendError, BadRequest, ConfigError, Conflict
from scd_core.stores.checkpointer import Checkpointer
from scd_core.stores.sqlite_schema import prepare

__all__ = ["SqliteConnection"]

# The safety net of the Checkpointer (pages of 4 KiB, so about 32 MB of WAL).
_AUTOCHECKPOINT_PAGES = 8_000


class SqliteConnection:
    """The connection to the SQLite file ``path`` (created with its parent directory),
    its lock and its checkpoint thread; subclasses run their statements in ``_use``.

    ``migrated_from`` is the schema version the file was migrated from on open, or
    None; see ``SqliteRunStore`` for the arguments.
    """

    migrated_from: int | None

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        checkpoint_interval_s: float = 0.05,
    ) -> None:
        self.path = Path(path)
        self._checkpoint_interval = checkpoint_interval_s
        self._busy_ms = int(busy_timeout_s * 1000)
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = False
        self._pid = os.getpid()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"cannot create the directory of {self.path}: {exc}") from exc
        self._db = self._connect()
        self._checkpointer = self._start_checkpointer()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    # -- connection ---------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise BackendError(f"cannot open the run store {self.path}: {exc}") from exc
        try:
            db.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            if self._checkpoint_interval > 0:
                db.execute(f"PRAGMA wal_autocheckpoint = {_AUTOCHECKPOINT_PAGES}")
            self.migrated_from = prepare(db, self.path)
        except sqlite3.Error as exc:
            db.close()
            raise BackendError(f"cannot open the run store {self.path}: {exc}") from exc
        except ConfigError:
            db.close()
            raise
        return db

    def _start_checkpointer(self) -> Checkpointer | None:
        if self._checkpoint_interval <= 0:
            return None
        checkpointer = Checkpointer(
            self.path, interval_s=self._checkpoint_interval, lock=self._lock
        )
        checkpointer.start()
        # a store dropped without close() must not leave its thread polling forever
        weakref.finalize(self, checkpointer.halt)
        return checkpointer

    @contextmanager
    def _use(self, what: str) -> Iterator[sqlite3.Connection]:
        """The connection under the lock; sqlite3 errors become ``BackendError``."""
        with self._lock:
            if self._closed:
                raise BackendError("the run store is closed")
            if os.getpid() != self._pid:
                # forked: the parent's connection must not be used (nor closed) here
                self._pid = os.getpid()
                self._db = self._connect()
                self._checkpointer = self._start_checkpointer()
            try:
                yield self._db
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"{what}: {exc}") from exc
            except sqlite3.Error as exc:
                raise BackendError(f"run store {what} failed: {exc}") from exc
            except UnicodeEncodeError as exc:  # a key SQLite cannot store as UTF-8
                raise BadRequest(f"run store {what}: a key is not valid Unicode") from exc

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                if os.getpid() == self._pid:
                    if self._checkpointer is not None:
                        self._checkpointer.stop()
                    self._db.close()
