"""Run one step's process: own process group, merged output, timeout and cancel.

Contract: :func:`run_process` starts ``argv`` in a new session (so the step and
every descendant that stays in its process group can be signalled together),
streams stdout and stderr merged through one pipe into ``sink`` in chunks of up
to 64 KiB (no per-line work here: framing and masking belong to the log writer),
and returns a :class:`ProcessResult`. On timeout or cancel it sends SIGTERM to
the group, waits ``grace`` seconds, then SIGKILL. It never hangs on a pipe held
open by a descendant that left the group: once the main process is gone, the
pipe is drained for at most ``drain`` seconds and then handed to a background
reader that discards the rest.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["ProcessResult", "kill_group", "run_process"]

CHUNK = 64 * 1024
PIPE_SIZE = 1024 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
# How often a quiet step checks its cancel token and deadline; output wakes it at once.
_TICK = 0.05


@dataclass(frozen=True)
class ProcessResult:
    """How a step's process ended: exit code (negative: killed by that signal)."""

    code: int
    timed_out: bool = False
    cancelled: bool = False
    pgid: int = 0


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> bool:
    """Send ``sig`` to process group ``pgid``; False when the group is already gone."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def run_process(
    argv: Sequence[str],
    *,
    sink: Callable[[bytes], object],
    env: Mapping[str, str],
    cwd: Path,
    timeout: float | None = None,
    cancel: threading.Event | None = None,
    kill: threading.Event | None = None,
    grace: float = 10.0,
    drain: float = 0.5,
) -> ProcessResult:
    """Run ``argv`` to completion, feeding its merged output to ``sink``.

    ``cancel`` asks for a graceful stop (SIGTERM, ``grace``, SIGKILL); ``kill``
    stops at once with SIGKILL. ``timeout`` is in seconds. Raises ``OSError``
    when the program cannot be started.
    """
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
        bufsize=0,
    )
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    _widen(fd)
    pgid = proc.pid  # start_new_session: the child leads its own group
    deadline = None if timeout is None else time.monotonic() + timeout
    term_at: float | None = None  # when SIGTERM went out
    timed_out = cancelled = False
    eof = False
    exited_at: float | None = None
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while not eof:
            if sel.select(_TICK):
                eof = _pump(fd, sink)
                if not eof:
                    continue
            now = time.monotonic()
            if term_at is None:
                if kill is not None and kill.is_set():
                    cancelled = True
                    kill_group(pgid)
                    term_at = now - grace
                elif cancel is not None and cancel.is_set():
                    cancelled = True
                    kill_group(pgid, signal.SIGTERM)
                    term_at = now
                elif deadline is not None and now >= deadline:
                    timed_out = True
                    kill_group(pgid, signal.SIGTERM)
                    term_at = now
            elif now - term_at >= grace or (kill is not None and kill.is_set()):
                kill_group(pgid)
            if eof:
                break
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at >= drain:
                break
    code = proc.wait()
    if eof:
        proc.stdout.close()
    else:
        # A descendant outside the group still holds the pipe: stop waiting for it.
        threading.Thread(target=_discard, args=(proc.stdout,), daemon=True).start()
    if term_at is not None:
        kill_group(pgid)  # leave nothing of a stopped step behind
    return ProcessResult(code=code, timed_out=timed_out, cancelled=cancelled, pgid=pgid)


def _widen(fd: int) -> None:
    """Grow the pipe so a fast writer runs on while we frame a chunk (fewer switches)."""
    # Over /proc/sys/fs/pipe-max-size for this user, or not Linux: keep the default size.
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)


def _pump(fd: int, sink: Callable[[bytes], object]) -> bool:
    """Read what is available into ``sink``; True at end of file."""
    while True:
        try:
            data = os.read(fd, CHUNK)
        except BlockingIOError:
            return False
        if not data:
            return True
        sink(data)
        if len(data) < CHUNK:
            return False


def _discard(stream: IO[bytes]) -> None:
    """Read a stray pipe to its end so its writer never blocks, then close it."""
    fd = stream.fileno()
    os.set_blocking(fd, True)
    try:
        while os.read(fd, CHUNK):
            pass
    except OSError:
        pass
    finally:
        stream.close()
