"""End-to-end fixtures: a module-wide ``scd serve`` and a fresh git repository per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_support import GitRepo, ScdServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScdServer]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    scd = ScdServer(tmp_path_factory.mktemp("scd"))
    scd.start()
    try:
        yield scd
    finally:
        scd.stop()
        scd.client.close()


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    return GitRepo(tmp_path / "repo")
