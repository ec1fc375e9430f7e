"""The worker processes of ``scd serve --redis``: ``scd worker --redis URL`` processes.

Contract: the same as ``WorkerPool`` (``start``, ``check`` restarting the ones
that died, ``stop``, ``pids``, ``restarts``), except that the workers take their
jobs from the Redis Stream themselves, so ``urls`` is empty (no endpoint to
deliver to, no pre-stop to call: a worker's SIGTERM lets its jobs finish for
``grace_s`` seconds, then interrupts them). Each process's output goes to
``<log_dir>/worker-<i>.log``. Not thread-safe: one supervising thread calls it.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["RedisWorkerPool"]

log = logging.getLogger("scd.serve")


class RedisWorkerPool:
    """``n`` ``scd worker --redis URL`` processes (one job at a time each)."""

    def __init__(
        self, n: int, url: str, env: Mapping[str, str], log_dir: Path, grace_s: float = 10.0
    ) -> None:
        if n < 1:
            raise ValueError("a worker pool needs at least one worker")
        self._argv = [sys.executable, "-m", "functions.commands.worker", "--redis", url]
        self._argv += ["--grace", repr(grace_s)]
        self._env = dict(env)
        self._log_dir = log_dir
        self._grace_s = grace_s
        self._procs: list[subprocess.Popen[bytes] | None] = [None] * n
        self.restarts = 0

    @property
    def urls(self) -> list[str]:
        """No endpoints: the workers read the stream."""
        return []

    @property
    def pids(self) -> list[int | None]:
        return [p.pid if p is not None else None for p in self._procs]

    def start(self) -> None:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        for index, proc in enumerate(self._procs):
            if proc is None or proc.poll() is not None:
                self._procs[index] = self._spawn(index)

    def check(self) -> int:
        """Restart the workers that exited; how many were restarted."""
        restarted = 0
        for index, proc in enumerate(self._procs):
            if proc is not None and proc.poll() is not None:
                log.warning("worker %d (pid %d) exited; restarting it", index, proc.pid)
                self._procs[index] = self._spawn(index)
                restarted += 1
        self.restarts += restarted
        return restarted

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM every worker; SIGKILL those alive after their grace and ``timeout_s``."""
        live = [p for p in self._procs if p is not None and p.poll() is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        deadline = time.monotonic() + self._grace_s + timeout_s
        for proc in live:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d ignored SIGTERM; killing it", proc.pid)
                proc.kill()
                proc.wait()

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
