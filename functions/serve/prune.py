"""Pruning what a data dir accumulates: old logs, workspaces, git mirrors and queue tasks.

Neither local disk nor a NAS mount has a lifecycle rule, so ``scd prune`` (and
``scd serve``, once a day) removes, under ``data_dir``:

- ``logs/<run>/`` of the file sink, when nothing in it changed for ``older_than``
  seconds (only when the log sink is that directory: a ``file://`` URL; OSS and
  SLS expire logs themselves, see ``ensure_lifecycle``/``ensure_index``);
- ``work/<name>/``, workspaces a lost worker left behind, by the same rule;
- ``cache/mirrors/<hash>/``, git mirrors no checkout fetched into for that long
  (a fetch rewrites ``FETCH_HEAD``), under the mirror's lock taken without
  waiting, so a mirror in use is skipped, never pulled from under a checkout;
- finished tasks of the local queue (``queue.db``) that ended that long ago.

Idempotent and safe to run beside a serving ``scd serve``: each removal is
checked again just before it happens, and a failure to remove one entry is
counted and logged, not raised. ``now`` is wall-clock seconds (file mtimes and
queue times are both wall clock).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from scd_core.errors import BadRequest

__all__ = ["PruneReport", "Pruner", "parse_age", "prune"]

log = logging.getLogger("scd.prune")
_AGE = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DAY = 86400.0


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m`` or ``3600s`` in seconds; BadRequest for anything else."""
    match = _AGE.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise BadRequest(f"an age is a number and a unit s, m, h or d (e.g. 30d): {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class PruneReport:
    """What one prune removed (and failed to remove)."""

    logs: int = 0
    workspaces: int = 0
    mirrors: int = 0
    queue_tasks: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"removed {self.logs} run log(s), {self.workspaces} workspace(s), "
            f"{self.mirrors} git mirror(s), {self.queue_tasks} finished queue task(s)"
        )
        return text + (f"; {len(self.failures)} could not be removed" if self.failures else "")


def _newest(path: Path) -> float:
    """The newest mtime of ``path`` and what is directly in it (its last use)."""
    newest = path.stat().st_mtime
    with os.scandir(path) as entries:
        for entry in entries:
            try:
                newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
            except FileNotFoundError:
                continue
    return newest


def _stale(parent: Path, cutoff: float) -> Iterator[Path]:
    if not parent.is_dir():
        return
    for child in sorted(parent.iterdir()):
        try:
            if child.is_dir() and not child.is_symlink() and _newest(child) < cutoff:
                yield child
        except FileNotFoundError:
            continue


def _remove(path: Path, report: PruneReport, cutoff: float) -> bool:
    try:
        if _newest(path) >= cutoff:  # used since it was listed
            return False
        shutil.rmtree(path)
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        report.failures.append(f"{path}: {exc.strerror}")
        log.warning("prune: cannot remove %s: %s", path, exc.strerror)
        return False


@contextmanager
def _mirror_lock(mirror: Path) -> Iterator[bool]:
    """The checkout's lock file beside the mirror, taken exclusively without waiting."""
    with open(mirror.with_name(mirror.name + ".lock"), "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def prune(
    data_dir: Path, older_than: float, *, log_dir: Path | None, now: float | None = None
) -> PruneReport:
    """Remove what was unused for ``older_than`` seconds (see the module docstring).

    ``log_dir`` is the file sink's directory, or None when logs live elsewhere.
    """
    if older_than <= 0:
        raise BadRequest("the age to prune must be positive")
    cutoff = (time.time() if now is None else now) - older_than
    report = PruneReport()
    if log_dir is not None:
        report.logs = sum(_remove(p, report, cutoff) for p in _stale(log_dir, cutoff))
    report.workspaces = sum(_remove(p, report, cutoff) for p in _stale(data_dir / "work", cutoff))
    for mirror in _stale(data_dir / "cache" / "mirrors", cutoff):
        with _mirror_lock(mirror) as free:
            if free and _remove(mirror, report, cutoff):
                report.mirrors += 1
    queue = data_dir / "queue.db"
    if queue.is_file():
        from scd_core.invokers.queue import TaskQueue

        tasks = TaskQueue(queue, function_arn="prune")
        try:
            report.queue_tasks = tasks.prune(cutoff)
        finally:
            tasks.close()
    return report


class Pruner:
    """Runs ``prune`` every ``interval`` seconds on a daemon thread, first after one interval.

    ``start`` once, ``stop`` (idempotent) wakes and joins it. A failing prune is
    logged and tried again next interval.
    """

    def __init__(self, run: Callable[[], PruneReport], interval: float = DAY) -> None:
        self._run = run
        self.interval = interval
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scd-prune", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                report = self._run()
            except Exception:
                log.exception("prune failed; trying again in %.0f s", self.interval)
            else:
                self.runs += 1
                log.info("prune: %s", report.summary())
