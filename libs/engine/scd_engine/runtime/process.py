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

Accounting: the step's process is reaped with ``wait4``, whose resource usage
covers the process and every descendant it waited for (the kernel folds a reaped
child's usage into its parent's), so a shell's commands are counted; a
descendant nobody waited for (a daemon left running, killed with the group) is
not. ``ru_maxrss`` is the peak of the largest single process, not a sum. Linux
starts an exec'd process's ``ru_maxrss`` at the peak of the memory it replaced,
which for a spawned step is this (worker) process's: a figure not above our own
peak at spawn time says only "no more than that", so it is reported as None
(unknown), and any figure above it is the step's own.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import resource
import select
import signal
import subprocess
import sys
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
_SPAWN = hasattr(os, "posix_spawn") and hasattr(os, "POSIX_SPAWN_OPEN")
# What Popen's restore_signals puts back to default in the child.
_DEFAULTED = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)
)
# How often a quiet step checks its cancel token and deadline; output wakes it at once.
_TICK_MS = 50


# ru_maxrss is in KiB on Linux, in bytes on macOS
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


@dataclass(frozen=True)
class ProcessResult:
    """How a step's process ended: exit code (negative: killed by that signal), and
    what it used (see the module docstring; None when the process was reaped
    elsewhere and its usage is unknown)."""

    code: int
    timed_out: bool = False
    cancelled: bool = False
    pgid: int = 0
    cpu_seconds: float | None = None
    max_rss_bytes: int | None = None


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
    proc = _start(argv, env, cwd)
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # see the module docstring
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    _widen(fd)
    pgid = proc.pid  # a new session: the child leads its own group
    deadline = None if timeout is None else time.monotonic() + timeout
    term_at: float | None = None  # when SIGTERM went out
    timed_out = cancelled = False
    eof = False
    exited_at: float | None = None
    # poll(2) on one descriptor: no epoll instance to make and close for every step.
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    next_check = 0.0
    while not eof:
        if poller.poll(_TICK_MS):
            eof = _pump(fd, sink)
            # A step that never stops printing must still be stopped: check at least every tick.
            if not eof and time.monotonic() < next_check:
                continue
        now = time.monotonic()
        next_check = now + _TICK_MS / 1000
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
    usage = proc.usage
    return ProcessResult(
        code=code,
        timed_out=timed_out,
        cancelled=cancelled,
        pgid=pgid,
        cpu_seconds=None if usage is None else round(usage.ru_utime + usage.ru_stime, 3),
        max_rss_bytes=None
        if usage is None or usage.ru_maxrss <= floor
        else usage.ru_maxrss * _MAXRSS_UNIT,
    )


class _Child:
    """A started step process, whichever way it was started: pid, pipe, poll, wait.

    Reaped here with ``wait4`` even when Popen started it (Popen's own wait gives no
    resource usage); Popen is then told the exit code, so it neither waits again nor
    warns that its child still runs.
    """

    def __init__(self, pid: int, stdout: IO[bytes], popen: subprocess.Popen[bytes] | None) -> None:
        self.pid = pid
        self.stdout = stdout
        self._popen = popen
        self._code: int | None = None
        self.usage: resource.struct_rusage | None = None
        """The reaped process's resource usage; None before, or if reaped elsewhere."""

    def poll(self) -> int | None:
        """The exit code (negative: killed by that signal), None while it runs."""
        if self._code is None:
            self._reap(os.WNOHANG)
        return self._code

    def wait(self) -> int:
        """Wait for the exit code."""
        while self._code is None:
            self._reap(0)
        return self._code

    def _reap(self, options: int) -> None:
        try:
            pid, status, usage = os.wait4(self.pid, options)
        except ChildProcessError:
            pid, status, usage = self.pid, 0, None  # reaped elsewhere: Popen says 0, so do we
        if pid:
            self._code = os.waitstatus_to_exitcode(status)
            self.usage = usage
            if self._popen is not None:
                self._popen.returncode = self._code


def _start(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> _Child:
    """Start ``argv`` in a new session, stdin from /dev/null, stdout and stderr on one pipe.

    Popen's ``_execute_child`` costs the parent about 0.3 ms of Python per step
    on top of the fork itself; ``os.posix_spawn`` does the same work in C. It
    cannot change directory, so it is used when the step runs in scd's own
    working directory (``scd run``'s common case) and the program is found on
    the step's PATH (searched by ``posix_spawnp`` when that is our PATH);
    otherwise, or when /proc cannot list our descriptors, Popen starts it.
    Both give the child exactly what Popen gives it: the descriptors 0-2 only
    (close_fds), default SIGPIPE/SIGXFSZ (restore_signals).
    """
    spawned = _spawn(argv, env, cwd) if _SPAWN else None
    if spawned is not None:
        return spawned
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
    return _Child(proc.pid, proc.stdout, proc)


def _spawn(argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> _Child | None:
    """Start with ``os.posix_spawn`` when it can do what Popen would; else None."""
    try:
        if os.fspath(cwd) != os.getcwd():
            return None
        inherited = [int(name) for name in os.listdir("/proc/self/fd")]
    except (OSError, ValueError):
        return None
    if env.get("PATH") == os.environ.get("PATH"):
        # posix_spawnp searches our PATH as Popen's child would search the step's.
        start, program = os.posix_spawnp, argv[0]
    else:
        found = _which(argv[0], env)
        if found is None:
            return None  # Popen reports the error as it always has
        start, program = os.posix_spawn, found
    closes = []
    for fd in inherited:
        try:
            if fd > 2 and os.get_inheritable(fd):
                closes.append((os.POSIX_SPAWN_CLOSE, fd))
        except OSError:
            continue  # the listing's own descriptor is gone already
    read_end, write_end = os.pipe()
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, write_end, 1),
        (os.POSIX_SPAWN_DUP2, write_end, 2),
        *closes,
    ]
    try:
        pid = start(
            program, list(argv), env, file_actions=actions, setsid=True, setsigdef=_DEFAULTED
        )
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    return _Child(pid, open(read_end, "rb", buffering=0), None)


def _which(name: str, env: Mapping[str, str]) -> str | None:
    """The file Popen would execute for ``name`` with the step's PATH."""
    if os.sep in name:
        return name
    for folder in os.get_exec_path(dict(env)):
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


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
