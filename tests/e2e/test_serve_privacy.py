"""``scd serve`` keeps its data dir to its own user: 0700, and the database 0600."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import GitRepo, ScdServer
from scd_engine.runtime.sandbox import find_sandbox


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_dir_and_database_of_a_running_server_are_private(server: ScdServer) -> None:
    assert _mode(server.data_dir) == 0o700
    databases = sorted(server.data_dir.glob("*.db"))
    assert databases
    for database in databases:
        assert _mode(database) == 0o600, database


@pytest.fixture(scope="module")
def confined(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScdServer]:
    if find_sandbox() is None:
        pytest.skip("bubblewrap cannot run here: steps share scd serve's user (the banner says so)")
    scd = ScdServer(tmp_path_factory.mktemp("confined"), sandbox=True)
    scd.start()
    try:
        yield scd
    finally:
        scd.stop()
        scd.client.close()


def test_a_step_cannot_read_the_database_or_another_runs_workspace(
    confined: ScdServer, repo: GitRepo
) -> None:
    server = confined
    db = server.data_dir / "scd.db"
    work = server.data_dir / "work"
    pipeline = (
        "steps:\n"
        "  - id: peek\n"
        f"    run: cat {db} | head -c 64 || echo no-database; ls {work} | wc -l\n"
    )
    run_id = server.push(repo.commit(pipeline))
    assert server.wait_run(run_id)["status"] == "success"
    log = server.log_of(run_id, "peek")
    assert "no-database" in log
    assert "SQLite" not in log
    assert log.strip().endswith("1")  # its own workspace only, though others exist
    assert "sandboxed with bubblewrap" in server.output()
