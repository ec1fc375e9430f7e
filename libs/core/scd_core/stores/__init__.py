"""Run store backends and ``open_store``, which picks one from a URL.

URLs: ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (everything
after ``sqlite:///`` is the file path, as in SQLAlchemy, so
``f"sqlite:///{data_dir}/scd.db"`` works for relative and absolute ``data_dir``),
``memory://`` and ``tablestore://INSTANCE[?endpoint=URL&prefix=scd_&region=R&control_ttl=S]``
(credentials from ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET``/``_SECURITY_TOKEN``).
Backends import lazily: opening a memory store never imports sqlite3, and the
``tablestore`` SDK is imported only by a Tablestore store.
"""

from __future__ import annotations

from pathlib import Path

from scd_core.errors import ConfigError
from scd_core.store import RunStore

__all__ = ["ACCEPTED_URLS", "open_store"]

ACCEPTED_URLS = ("sqlite:///PATH", "memory://", "tablestore://INSTANCE?endpoint=URL")


def open_store(url: str) -> RunStore:
    """Open the run store named by ``url``; ``ConfigError`` for an unknown or bad URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"run store URL {url!r} has no scheme (accepted: {_accepted()})")
    if scheme == "memory":
        if rest:
            raise ConfigError(
                f"run store URL {url!r}: memory:// takes no path (accepted: {_accepted()})"
            )
        from scd_core.stores.memory import MemoryRunStore

        return MemoryRunStore()
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else ""
        if not path:
            raise ConfigError(f"run store URL {url!r} has no file path (accepted: {_accepted()})")
        from scd_core.stores.sqlite import SqliteRunStore

        return SqliteRunStore(Path(path))
    if scheme == "tablestore":
        from scd_core.stores.tablestore import open_tablestore

        return open_tablestore(url)
    raise ConfigError(f"unknown run store URL scheme {scheme!r} (accepted: {_accepted()})")


def _accepted() -> str:
    return ", ".join(ACCEPTED_URLS)
