"""The worker processes of ``scd serve --redis``: ``scd worker --redis URL`` processes.

Contract: the same as ``WorkerPool`` (``start``, ``check`` restarting the ones
that died, ``stop``, ``pids``, ``restarts``), except that the workers take their
jobs from the Redis Stream themselves, so ``urls`` is empty (no endpoint to
deliver to, no pre-stop to call: a worker's SIGTERM lets its jobs finish for
``grace_s`` seconds, then interrupts them). Each process's output goes to
``<log_dir>/worker-<i>.log``. Not thread-safe: one supervising thread calls it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from functions.serve.workers import ProcessPool

__all__ = ["RedisWorkerPool"]


class RedisWorkerPool(ProcessPool):
    """``n`` ``scd worker --redis URL`` processes (one job at a time each)."""

    def __init__(
        self, n: int, url: str, env: Mapping[str, str], log_dir: Path, grace_s: float = 10.0
    ) -> None:
        super().__init__(n, env, log_dir, grace_s)
        self._argv = [sys.executable, "-m", "functions.commands.worker", "--redis", url]
        self._argv += ["--grace", repr(grace_s)]

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        with (self._log_dir / f"worker-{index}.log").open("ab") as out:
            return subprocess.Popen(
                self._argv,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a terminal's Ctrl-C reaches scd serve only
            )
