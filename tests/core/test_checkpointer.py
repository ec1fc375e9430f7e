"""The Checkpointer restarts a long WAL itself, so no writer's commit has to."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from scd_core.stores.checkpointer import Checkpointer


class _Recorder:
    """A connection that answers the passive checkpoint with ``answer`` and records SQL."""

    def __init__(self, answer: tuple[int, int, int]) -> None:
        self.answer = answer
        self.statements: list[str] = []

    def execute(self, sql: str) -> _Recorder:
        self.statements.append(sql)
        return self

    def fetchone(self) -> tuple[int, int, int]:
        return self.answer


def _turn(checkpointer: Checkpointer, db: Any) -> None:
    checkpointer._turn(db)


@pytest.mark.parametrize(
    ("answer", "restarted"),
    [
        ((0, 2000, 1900), True),  # long and nearly copied: restart
        ((0, 500, 500), False),  # short: passive is enough
        ((0, 2000, 100), False),  # far behind: restarting would hold writers for the copy
        ((1, 2000, 1900), False),  # the passive turn was busy
    ],
)
def test_a_restart_follows_a_passive_checkpoint_only_for_a_long_caught_up_wal(
    answer: tuple[int, int, int], restarted: bool
) -> None:
    db = _Recorder(answer)
    _turn(Checkpointer(Path("unused.db"), restart_frames=1024), db)
    assert db.statements[0] == "PRAGMA wal_checkpoint(PASSIVE)"
    assert ("PRAGMA wal_checkpoint(RESTART)" in db.statements) is restarted


def test_a_restart_holds_the_owners_lock_and_waits_for_it_a_bounded_time() -> None:
    lock = threading.Lock()
    checkpointer = Checkpointer(Path("unused.db"), interval_s=0.01, lock=lock)
    seen: list[bool] = []

    class Watching(_Recorder):
        def execute(self, sql: str) -> _Recorder:
            if "RESTART" in sql:
                seen.append(lock.locked())
            return super().execute(sql)

    _turn(checkpointer, Watching((0, 2000, 2000)))
    assert seen == [True]  # the owner's writers wait on the lock, not in SQLite's sleeps
    blocked = Watching((0, 2000, 2000))
    with lock:  # as the owner's close() holds it while it stops the thread
        turn = threading.Thread(target=_turn, args=(checkpointer, blocked))
        turn.start()
        turn.join(timeout=30)
        assert not turn.is_alive()
    assert "PRAGMA wal_checkpoint(RESTART)" not in blocked.statements


def test_a_restart_lets_the_next_write_start_the_wal_over(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # only the Checkpointer checkpoints
    writer.execute("CREATE TABLE t (x TEXT)")
    for _ in range(60):
        writer.execute("INSERT INTO t VALUES (?)", ("x" * 8000,))
    own = sqlite3.connect(path, isolation_level=None)
    _turn(Checkpointer(path, restart_frames=100), own)
    writer.execute("INSERT INTO t VALUES ('one more')")
    _, frames, _ = own.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames < 10
    assert writer.execute("SELECT count(*) FROM t").fetchone()[0] == 61
