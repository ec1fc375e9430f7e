"""The served trigger the API, CLI and dashboard tests drive: the real app on loopback over a
SQLite store (``Settings`` defaults), a memory invoker and a file log sink, with scd.yaml
built from token digests. Import it by name (``from api_support import ...``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from scd_core.invokers.memory import MemoryInvoker
from scd_core.settings import Settings
from scd_core.sinks.file import FileLogSink
from scd_core.store import RunStore
from scd_core.stores import open_store

from functions.appconfig import parse_config
from functions.trigger.app import create_app
from functions.trigger.testing import serve

__all__ = ["WEB_APP", "Served", "config_yaml", "digest", "serve_trigger", "token_yaml"]

WEB_APP = """\
  - name: web
    repo: https://github.com/acme/web.git
    insecure_no_secret: true
"""


def digest(token: str) -> str:
    """The hex SHA-256 scd.yaml and the store keep in place of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_yaml(name: str, token: str, *scopes: str) -> str:
    """One scd.yaml ``tokens`` entry for ``token`` (by digest) with ``scopes``."""
    return f"  - {{name: {name}, sha256: {digest(token)}, scopes: [{', '.join(scopes)}]}}\n"


def config_yaml(apps: str, *tokens: str) -> str:
    """An scd.yaml text from ``apps`` entries and ``token_yaml`` lines."""
    return "\napps:\n" + apps + "tokens:\n" + "".join(tokens)


@dataclass
class Served:
    """A trigger app serving at ``url``; ``sink`` writes where the app reads logs."""

    url: str
    data_dir: Path
    store: RunStore
    sink: FileLogSink
    invoker: MemoryInvoker

    def request(
        self, method: str, path: str, token: str | None, body: Any = None
    ) -> httpx.Response:
        """``method path`` with ``token`` as the bearer (none when ``None`` or empty)."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, self.url + path, headers=headers, json=body, timeout=10)


ServedT = TypeVar("ServedT", bound=Served)


@contextmanager
def serve_trigger(
    data_dir: Path, config: str, kind: type[ServedT], **settings_fields: Any
) -> Iterator[ServedT]:
    """Serve the trigger app for scd.yaml text ``config`` with its data in ``data_dir``,
    as a ``kind`` (a ``Served`` subclass adding defaulted fields and helpers);
    ``settings_fields`` set other ``Settings`` fields."""
    settings = Settings(data_dir=data_dir, config=data_dir / "scd.yaml", **settings_fields)
    store = open_store(settings.store)
    invoker = MemoryInvoker()
    app = create_app(settings, config=parse_config(config), store=store, invoker=invoker)
    try:
        with serve(app) as url:
            yield kind(url, data_dir, store, FileLogSink(data_dir / "logs"), invoker)
    finally:
        store.close()
