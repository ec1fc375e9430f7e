"""open_store: a run store backend chosen by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scd_core.errors import ConfigError
from scd_core.stores import open_store
from scd_core.stores.memory import MemoryRunStore
from scd_core.stores.sqlite import SqliteRunStore


def test_open_store_opens_memory_and_sqlite_urls(tmp_path: Path, monkeypatch: Any) -> None:
    memory = open_store("memory://")
    assert isinstance(memory, MemoryRunStore)
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db")
    assert isinstance(absolute, SqliteRunStore)
    assert absolute.path == tmp_path / "abs.db"
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///.scd/rel.db")
    assert isinstance(relative, SqliteRunStore)
    assert (tmp_path / ".scd" / "rel.db").exists()
    for opened in (memory, absolute, relative):
        opened.close()


@pytest.mark.parametrize(
    "url", ["redis://localhost", "postgres:///x", "runs.db", "sqlite://", "memory://x"]
)
def test_open_store_rejects_unknown_or_incomplete_urls(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_store(url)
    assert "sqlite:///" in str(caught.value)
