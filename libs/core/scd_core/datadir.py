"""scd's data dir is its owner's alone: the database (every app's runs, stored secrets and
token digests), the queue, logs and workspaces.

Contract: :func:`private_data_dir` creates ``path`` (and its parents) if needed, sets it
to mode 0700 and every file and directory directly inside it to 0600/0700 (a data dir
written by an earlier release under umask 022 is tightened on start), and sets the
process umask to 077 so that whatever the process creates from then on (SQLite files
and their ``-wal``/``-shm``, logs, checkouts) is private too. Idempotent; call it once
at start, before opening the store, in every process that owns a data dir.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "private_data_dir"]

PRIVATE_UMASK = 0o077


def private_data_dir(path: Path) -> Path:
    """``path``, created and made private; see the module docstring."""
    os.umask(PRIVATE_UMASK)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    for entry in path.iterdir():
        mode = entry.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue  # a link's target is not ours to change
        entry.chmod(0o700 if stat.S_ISDIR(mode) else 0o600)
    return path
