"""Seams between the trigger's hot routes and the API: store tokens and API apps."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from scd_core.invokers.memory import MemoryInvoker
from scd_core.models import utcnow
from scd_core.settings import Settings
from scd_core.store import RunStore, TokenRecord
from scd_core.stores import open_store

from functions.trigger.app import create_app
from functions.trigger.auth import hash_token
from functions.trigger.config import parse_config
from functions.trigger.testing import asgi_client

CONFIG = f"""
apps:
  - name: web
    repo: https://github.com/acme/web.git
    secret: web-hook-secret-value
    trigger:
      push: {{branches: [main]}}
      schedule: [{{cron: '0 0 2 * * *'}}]
tokens:
  - {{name: root, sha256: {hash_token("admin-token")}, scopes: [admin]}}
"""
STORED = "stored-trigger-token"


class Seams:
    """A running trigger app (no request served yet) and what it was given."""

    def __init__(self, client: Any, store: RunStore, invoker: MemoryInvoker) -> None:
        self.client = client
        self.store = store
        self.invoker = invoker
        self.token_reads_on_loop: list[bool] = []

    def post(self, path: str, token: str, **options: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", **options.pop("headers", {})}
        response: httpx.Response = self.client.post(path, headers=headers, **options)
        return response


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def seams(tmp_path: Path) -> Iterator[Seams]:
    config = parse_config(CONFIG, "scd.yaml", {})
    store = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    store.put_token("robot", hash_token(STORED), ["trigger"], utcnow())
    invoker = MemoryInvoker()
    api = create_app(Settings(data_dir=tmp_path), config=config, store=store, invoker=invoker)
    found = Seams(None, store, invoker)
    real_find = store.find_token

    def spy(sha256: str) -> TokenRecord | None:
        found.token_reads_on_loop.append(_on_loop())
        return real_find(sha256)

    store.find_token = spy  # type: ignore[method-assign]
    with asgi_client(api) as client:
        found.client = client
        yield found
    store.close()


def test_a_store_token_starts_a_manual_run_as_the_first_request(seams: Seams) -> None:
    answer = seams.post("/api/v1/apps/web/runs", STORED, json={"ref": "main"})
    assert answer.status_code == 202
    assert [job.id for job in seams.invoker.jobs] == [answer.json()["run_id"]]


def test_manual_run_reads_store_tokens_off_the_event_loop(seams: Seams) -> None:
    seams.post("/api/v1/apps/web/runs", STORED, json={"ref": "main"})
    assert seams.token_reads_on_loop == [False]


def test_a_config_token_costs_no_store_read_on_a_manual_run(seams: Seams) -> None:
    answer = seams.post("/api/v1/apps/web/runs", "admin-token", json={"ref": "main"})
    assert answer.status_code == 202
    assert seams.token_reads_on_loop == []


def test_timer_invoke_accepts_a_store_token_read_off_the_event_loop(seams: Seams) -> None:
    body = {"triggerTime": "2026-01-02T02:00:00Z", "triggerName": "web", "payload": ""}
    answer = seams.post("/invoke", STORED, json=body)
    assert answer.status_code == 202, answer.text
    assert seams.token_reads_on_loop == [False]


def test_a_revoked_store_token_is_refused_on_the_hot_route(seams: Seams) -> None:
    seams.store.revoke_token("robot")
    answer = seams.post("/api/v1/apps/web/runs", STORED, json={"ref": "main"})
    assert answer.status_code == 401
    assert seams.invoker.jobs == []
