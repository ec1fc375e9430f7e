"""Seams between the trigger's hot routes and the API: store tokens and API apps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import make_event, make_run
from scd_core.invokers.memory import MemoryInvoker
from scd_core.models import utcnow
from scd_core.settings import Settings
from scd_core.store import RunStore, TokenRecord
from scd_core.stores import open_store

from functions.appconfig import parse_config
from functions.trigger.app import create_app
from functions.trigger.auth import hash_token
from functions.trigger.state import AppCatalog
from functions.trigger.testing import asgi_client, github_push, github_signature

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


API_SECRET = "api-hook-secret-value"


def _api_app(secret: str = API_SECRET) -> dict[str, Any]:
    return {
        "repo": "https://github.com/acme/api.git",
        "provider": "github",
        "secret": secret,
        "trigger": {"push": {"branches": ["main"]}, "manual": True},
    }


def _put(seams: Seams, name: str, spec: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": "Bearer admin-token"}
    response: httpx.Response = seams.client.put(f"/api/v1/apps/{name}", json=spec, headers=headers)
    return response


def _push(seams: Seams, app: str, secret: str, delivery: str) -> httpx.Response:
    body = github_push("refs/heads/main", repo=f"acme/{app}")
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": github_signature(secret, body),
    }
    response: httpx.Response = seams.client.post(f"/webhooks/{app}", content=body, headers=headers)
    return response


def _count_app_reads(seams: Seams) -> list[str]:
    reads: list[str] = []
    real_get = seams.store.get_app

    def spy(name: str) -> dict[str, Any] | None:
        reads.append(name)
        return real_get(name)

    seams.store.get_app = spy  # type: ignore[method-assign]
    return reads


def test_a_webhook_reaches_an_app_registered_through_the_api(seams: Seams) -> None:
    assert _put(seams, "api", _api_app()).status_code == 201
    answer = _push(seams, "api", API_SECRET, "d-1")
    assert answer.status_code == 202, answer.text
    run = seams.store.get_run(answer.json()["run_id"])
    assert run.app == "api"
    assert [job.clone_url for job in seams.invoker.jobs] == ["https://github.com/acme/api.git"]


def test_a_manual_run_reaches_an_app_registered_through_the_api(seams: Seams) -> None:
    _put(seams, "api", _api_app())
    answer = seams.post("/api/v1/apps/api/runs", STORED, json={"ref": "main"})
    assert answer.status_code == 202, answer.text
    assert seams.store.get_run(answer.json()["run_id"]).app == "api"


def test_a_put_replacing_an_api_app_takes_effect_at_once_in_this_process(seams: Seams) -> None:
    _put(seams, "api", _api_app())
    assert _push(seams, "api", API_SECRET, "d-1").status_code == 202
    assert _put(seams, "api", _api_app("rotated-secret")).status_code == 200
    assert _push(seams, "api", API_SECRET, "d-2").status_code == 401
    assert _push(seams, "api", "rotated-secret", "d-3").status_code == 202


def test_a_deleted_api_app_is_404_for_webhooks_at_once(seams: Seams) -> None:
    _put(seams, "api", _api_app())
    assert _push(seams, "api", API_SECRET, "d-1").status_code == 202
    headers = {"Authorization": "Bearer admin-token"}
    assert seams.client.delete("/api/v1/apps/api", headers=headers).status_code == 204
    assert _push(seams, "api", API_SECRET, "d-2").status_code == 404


def test_webhooks_of_a_config_app_never_read_the_store_apps(seams: Seams) -> None:
    reads = _count_app_reads(seams)
    body = github_push("refs/heads/main")
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": github_signature("web-hook-secret-value", body),
    }
    assert seams.client.post("/webhooks/web", content=body, headers=headers).status_code == 202
    assert reads == []


def test_a_burst_of_webhooks_to_an_api_app_reads_its_spec_once(seams: Seams) -> None:
    _put(seams, "api", _api_app())
    reads = _count_app_reads(seams)
    for n in range(5):
        assert _push(seams, "api", API_SECRET, f"d-{n}").status_code == 202
    assert reads == ["api"]


def test_the_catalog_validates_an_unchanged_spec_once_and_a_changed_one_again() -> None:
    catalog = AppCatalog()
    first = catalog.remember("api", _api_app()).app
    again = catalog.remember("api", _api_app()).app
    changed = catalog.remember("api", _api_app("rotated-secret")).app
    assert first is not None
    assert again is first
    assert changed is not None
    assert changed is not first


def test_an_expired_catalog_entry_is_read_from_the_store_again(tmp_path: Path) -> None:
    catalog = AppCatalog(ttl=0.0)
    store = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    try:
        store.put_app("api", {**_api_app(), "name": "api"})
        catalog.load(store, "api")
        assert catalog.fresh("api") is None  # so a lookup reads the store again
        store.delete_app("api")
        assert catalog.load(store, "api").app is None
    finally:
        store.close()


def test_the_catalog_keeps_at_most_its_bound_of_names_dropping_the_oldest() -> None:
    catalog = AppCatalog(max_entries=3)
    for n in range(5):
        catalog.remember(f"nope-{n}", None)
    assert [catalog.fresh(f"nope-{n}") is not None for n in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_a_rerun_clones_the_apps_repository_not_the_one_its_event_named(seams: Seams) -> None:
    event = make_event(clone_url="https://evil.example/other.git")
    first = make_run(id=uuid.uuid4().hex, event=event, status="failure")
    seams.store.create_run(first)
    answer = seams.post(f"/api/v1/runs/{first.id}/rerun", STORED)
    assert answer.status_code == 202, answer.text
    [job] = seams.invoker.jobs
    assert (job.id, job.clone_url) == (answer.json()["run_id"], "https://github.com/acme/web.git")
