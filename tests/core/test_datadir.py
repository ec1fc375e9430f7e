"""The data dir and everything scd writes in it are readable by its owner alone."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from scd_core.datadir import private_data_dir


@pytest.fixture(autouse=True)
def _restore_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    os.umask(previous)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_dir_is_0700_and_files_written_after_are_0600(tmp_path: Path) -> None:
    data = private_data_dir(tmp_path / "a" / "data")
    assert _mode(data) == 0o700
    (data / "scd.db").write_text("runs")
    (data / "logs").mkdir()
    assert _mode(data / "scd.db") == 0o600
    assert _mode(data / "logs") == 0o700


def test_an_existing_world_readable_data_dir_is_tightened_on_start(tmp_path: Path) -> None:
    os.umask(0o022)
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    (data / "scd.db").write_text("runs of an earlier release")
    (data / "work").mkdir()
    (data / "link").symlink_to(tmp_path)
    assert _mode(data / "scd.db") == 0o644
    target_mode = _mode(tmp_path)
    private_data_dir(data)
    assert _mode(data) == 0o700
    assert _mode(data / "scd.db") == 0o600
    assert _mode(data / "work") == 0o700
    assert _mode(tmp_path) == target_mode  # a link's target is left as it was
    assert (data / "link").is_symlink()
