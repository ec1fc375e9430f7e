"""Confining a step's process to its workspace with bubblewrap (``bwrap``).

A step runs code from whatever repository scd builds. Under :class:`Sandbox` it sees the
system read-only (``/usr``, ``/etc``, ``/opt``, the Python that runs scd), a private
``/tmp`` and its own workspace read-write, and nothing else of the machine's disk: not
scd's data dir (its database, other runs' workspaces and logs), not the server user's
home. Network, user and process ids stay shared, so a step can fetch dependencies and
scd can signal its process group as it does without a sandbox (SIGTERM, grace,
SIGKILL: bwrap does not start a new session, so the group reaches the step). The
step's process ids are its own (``--unshare-pid``), so it cannot read another
process's environment through ``/proc``.

Contract: :func:`find_sandbox` answers a ``Sandbox`` when ``bwrap`` is on ``PATH`` and
can start a process here (unprivileged user namespaces, or root), else None; the answer
is probed once per process. ``Sandbox.wrap(argv, workspace=..., cwd=..., hidden=...)``
returns the argv that runs ``argv`` confined; every path in ``hidden`` (scd's data dir)
is covered by an empty tmpfs even where a read-only system path would show it, and the
workspace is bound after, so it stays visible inside a hidden dir. Paths must exist.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Sandbox", "borrowed_objects", "find_sandbox"]

_SYSTEM_DIRS = ("/usr", "/etc", "/opt", "/var/lib/ca-certificates", "/run/systemd/resolve")
_ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_PROBE_TIMEOUT_S = 10.0
_TMP = "/tmp"  # noqa: S108  # a fresh tmpfs inside the sandbox, not the host's /tmp


@dataclass(frozen=True)
class Sandbox:
    """bubblewrap at ``bwrap``; see the module docstring."""

    bwrap: str

    def wrap(
        self,
        argv: Sequence[str],
        *,
        workspace: Path,
        cwd: Path,
        hidden: Sequence[Path] = (),
        writable: Sequence[Path] = (),
        tmp: Path | None = None,
        readable: Sequence[Path] = (),
    ) -> list[str]:
        """``argv`` run by bubblewrap in a view of the disk holding only the system,
        the interpreter's paths, ``/tmp`` (``tmp`` mounted there, so the steps of one
        run share it as they would share the machine's; else an empty one),
        ``workspace`` and ``writable`` (read-write: the step's files outside it), and
        ``readable`` read-only even inside a hidden path (the object store of the
        checkout's own git mirror, which its ``.git`` borrows from)."""
        args = [self.bwrap, "--die-with-parent", "--unshare-ipc", "--unshare-uts"]
        # its own process ids: no /proc/<pid>/environ of scd's processes to read
        args += ["--unshare-pid"]
        for link in _ROOT_LINKS:
            top = Path(link)
            if top.is_symlink():
                args += ["--symlink", str(top.readlink()), link]
            elif top.is_dir():
                args += ["--ro-bind", link, link]
        for system in (*_SYSTEM_DIRS, *_python_paths()):
            args += ["--ro-bind-try", system, system]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--tmpfs", _TMP] if tmp is None else ["--bind", str(tmp.resolve()), _TMP]
        for path in hidden:
            args += ["--tmpfs", str(path.resolve())]
        for own in readable:
            place = str(own.resolve())
            args += ["--ro-bind-try", place, place]
        for own in (workspace, *writable):
            place = str(own.resolve())
            args += ["--bind", place, place]
        args += ["--chdir", str(cwd.resolve()), "--"]
        return [*args, *argv]


def borrowed_objects(workspace: Path) -> tuple[Path, ...]:
    """The object stores a checkout in ``workspace`` borrows from (git's alternates):
    a step running git needs them, and only them, of scd's mirror cache."""
    alternates = workspace / ".git" / "objects" / "info" / "alternates"
    try:
        lines = alternates.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ()
    return tuple(Path(line) for line in lines if line.startswith("/"))


def _python_paths() -> tuple[str, ...]:
    """Where the interpreter running scd and its packages live, outside ``/usr``:
    a ``script:`` step runs this interpreter with scd's prelude."""
    found: dict[str, None] = {}
    for raw in (sys.base_prefix, sys.prefix, sys.exec_prefix, *sys.path):
        if not raw:
            continue
        path = Path(raw).resolve()
        if path.is_dir() and not str(path).startswith("/usr/"):
            found[str(path)] = None
    return tuple(found)


@functools.lru_cache(maxsize=1)
def find_sandbox() -> Sandbox | None:
    """A ``Sandbox`` when bubblewrap can confine a process on this machine, else None."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None
    sandbox = Sandbox(bwrap)
    probe = sandbox.wrap(["/bin/true"], workspace=Path(_TMP), cwd=Path(_TMP))
    try:
        done = subprocess.run(probe, capture_output=True, timeout=_PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return sandbox if done.returncode == 0 else None
