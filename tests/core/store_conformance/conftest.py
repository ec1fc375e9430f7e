"""The RunStore conformance suite: one module per role, run on every backend.

A backend is brought up role by role: add it to ``BACKENDS`` with the roles it
implements so far, and every test of those roles runs on it (a module names its
role in ``ROLE``). Tests of a role may also call ``RunRecords`` (to create the
run a control or a step belongs to), so a backend starts with ``runs``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from scd_core.store import RunStore
from scd_core.stores.memory import MemoryRunStore
from scd_core.stores.sqlite import SqliteRunStore
from scd_core.stores.tablestore import TablestoreRunStore
from scd_core.stores.tablestore_schema import create_tables

ROLES = frozenset({"runs", "controls", "leases", "apps", "tokens"})


@dataclass(frozen=True)
class Backend:
    """A store backend under test: how to open one in a fresh directory, and its roles."""

    name: str
    open: Callable[[Path], RunStore]
    roles: frozenset[str] = ROLES
    url: Callable[[Path], str] | None = None
    """The ``open_store`` URL of the store ``open`` makes in a directory, for another
    process to open; None for a backend one process alone can use."""

    @property
    def complete(self) -> bool:
        """Whether it implements every role, so the whole ``RunStore``."""
        return self.roles == ROLES


def open_tablestore(_: Path) -> RunStore:
    """A Tablestore store on the real ``tablestore.OTSClient`` (its methods and request
    encoder) answered by a fresh ``OtsDouble`` (Tablestore's limits and conditions)
    whose ``get_range`` pages every 7 rows, so every range read is paged."""
    from scd_core.stores.otsdouble import OtsDouble, sdk_client

    client = sdk_client(OtsDouble(page_rows=7))
    create_tables(client)
    return TablestoreRunStore(client)


BACKENDS = [
    Backend("memory", lambda _: MemoryRunStore()),
    Backend(
        "sqlite",
        lambda directory: SqliteRunStore(directory / "runs.db"),
        url=lambda directory: f"sqlite:///{directory / 'runs.db'}",
    ),
    Backend("tablestore", open_tablestore),
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        role = metafunc.module.ROLE
        assert role in ROLES, f"{metafunc.module.__name__}: unknown ROLE {role!r}"
        chosen = [backend for backend in BACKENDS if role in backend.roles]
        metafunc.parametrize("backend", chosen, ids=[backend.name for backend in chosen])


@pytest.fixture
def store(backend: Backend, tmp_path: Path) -> Iterator[RunStore]:
    opened = backend.open(tmp_path)
    yield opened
    opened.close()
