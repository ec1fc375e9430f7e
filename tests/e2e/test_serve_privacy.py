"""``scd serve`` keeps its data dir to its own user: 0700, and the database 0600."""

from __future__ import annotations

import stat
from pathlib import Path

from e2e_support import ScdServer


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_and_database_of_a_running_server_are_private(server: ScdServer) -> None:
    assert _mode(server.data_dir) == 0o700
    databases = sorted(server.data_dir.glob("*.db"))
    assert databases
    for database in databases:
        assert _mode(database) == 0o600, database
