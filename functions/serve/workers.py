"""The worker processes of ``scd serve``: started, watched, restarted, stopped.

Contract: ``WorkerPool(n, env, log_dir)`` binds ``n`` loopback sockets at once
(so ``urls`` are known before any process runs) and ``start()`` launches one
``functions.serve.child`` process per socket with ``env``. ``check()`` restarts
any process that died (a kill -9, a crash) on the same socket, so the invoker's
endpoints never change; it returns how many it restarted. ``stop(timeout_s)``
sends SIGTERM to every process, waits, then SIGKILLs the rest. Each process's
stdout and stderr go to ``<log_dir>/worker-<i>.log`` (appended). Not thread-safe:
one supervising thread calls ``check`` and ``stop``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ProcessPool", "WorkerPool"]

log = logging.getLogger("scd.serve")


class ProcessPool:
    """``n`` supervised worker processes: the part ``WorkerPool`` and the Redis pool share.

    A subclass says how worker ``index`` is started (``_spawn``) and where jobs are
    delivered (``urls``); ``grace_s`` is how long a worker may take after SIGTERM
    before ``stop``'s own ``timeout_s`` starts.
    """

    def __init__(self, n: int, env: Mapping[str, str], log_dir: Path, grace_s: float = 0.0) -> None:
        if n < 1:
            raise ValueError("a worker pool needs at least one worker")
        self._env = dict(env)
        self._log_dir = log_dir
        self._grace_s = grace_s
        self._procs: list[subprocess.Popen[bytes] | None] = [None] * n
        self.restarts = 0

    @property
    def urls(self) -> list[str]:
        """The base URL of each worker, in order (none when workers fetch their jobs)."""
        return []

    @property
    def pids(self) -> list[int | None]:
        """The process id of each worker (None before ``start``)."""
        return [p.pid if p is not None else None for p in self._procs]

    def start(self) -> None:
        """Launch every worker process not running yet."""
        self._log_dir.mkdir(parents=True, exist_ok=True)
        for index, proc in enumerate(self._procs):
            if proc is None or proc.poll() is not None:
                self._procs[index] = self._spawn(index)

    def check(self) -> int:
        """Restart the workers that exited; how many were restarted."""
        restarted = 0
        for index, proc in enumerate(self._procs):
            if proc is not None and proc.poll() is not None:
                log.warning(
                    "worker %d (pid %d) exited with %s; restarting it",
                    index,
                    proc.pid,
                    proc.returncode,
                )
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
        raise NotImplementedError


class WorkerPool(ProcessPool):
    """``n`` worker processes, each serving on its own loopback socket."""

    def __init__(self, n: int, env: Mapping[str, str], log_dir: Path) -> None:
        super().__init__(n, env, log_dir)
        self._sockets: list[socket.socket] = []
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            sock.set_inheritable(True)
            self._sockets.append(sock)

    @property
    def urls(self) -> list[str]:
        """The base URL of each worker, in order."""
        return [f"http://127.0.0.1:{s.getsockname()[1]}" for s in self._sockets]

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM every worker, SIGKILL those still alive after ``timeout_s``; close sockets."""
        super().stop(timeout_s)
        for sock in self._sockets:
            sock.close()

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        fd = self._sockets[index].fileno()
        with (self._log_dir / f"worker-{index}.log").open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "functions.serve.child", str(fd), str(os.getpid())],
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(fd,),
                # Own process group: a Ctrl-C at the terminal reaches scd serve only,
                # which then stops the workers in order.
                start_new_session=True,
            )
