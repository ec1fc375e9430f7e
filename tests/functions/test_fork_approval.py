"""forks: {approve: true}: a fork's pull request waits, paused "waiting for approval",
until a token with the trigger scope approves it; then it runs with the app's secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scd_core.invokers.memory import MemoryInvoker
from scd_core.settings import Settings
from scd_core.store import RunStore
from scd_core.stores import open_store

from functions.appconfig import parse_config
from functions.trigger.app import create_app
from functions.trigger.auth import hash_token
from functions.trigger.testing import asgi_client, github_signature

SECRET = "fork-approval-webhook-secret"
CONFIG = f"""
apps:
  - name: web
    repo: https://github.com/acme/web.git
    provider: github
    secret: {SECRET}
    trigger: {{pull_request: {{}}}}
    forks: {{approve: true}}
tokens:
  - {{name: maintainer, sha256: {hash_token("trigger-token")}, scopes: [trigger]}}
  - {{name: viewer, sha256: {hash_token("read-token")}, scopes: [read]}}
"""


class Trigger:
    def __init__(self, client: Any, store: RunStore, invoker: MemoryInvoker) -> None:
        self.client, self.store, self.invoker = client, store, invoker

    def pull_request(self, head_repo: str, delivery: str) -> dict[str, Any]:
        payload = {
            "action": "opened", "number": 7,
            "pull_request": {
                "number": 7, "title": "Add x", "merged": False,
                "head": {"ref": "feature", "sha": "d" * 40, "repo": {"full_name": head_repo}},
                "base": {"ref": "main", "repo": {"full_name": "acme/web"}},
            },
            "sender": {"login": "mallory"},
            "repository": {"full_name": "acme/web", "clone_url": "https://github.com/acme/web.git"},
        }  # fmt: skip
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json", "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": github_signature(SECRET, body),
        }  # fmt: skip
        answer = self.client.post("/webhooks/web", content=body, headers=headers)
        assert answer.status_code == 202, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def approve(self, run_id: str, token: str = "trigger-token") -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        return self.client.post(f"/api/v1/runs/{run_id}/approve", headers=headers)


@pytest.fixture
def trigger(tmp_path: Path) -> Iterator[Trigger]:
    store = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    invoker = MemoryInvoker()
    api = create_app(
        Settings(data_dir=tmp_path), config=parse_config(CONFIG), store=store, invoker=invoker
    )
    with asgi_client(api) as client:
        yield Trigger(client, store, invoker)
    store.close()


def test_a_forks_pull_request_waits_for_approval_and_then_runs(trigger: Trigger) -> None:
    run_id = trigger.pull_request("mallory/web", "d-1")["run_id"]
    held = trigger.store.get_run(run_id)
    assert (held.status, held.message, held.event.fork) == ("paused", "waiting for approval", True)
    assert trigger.invoker.jobs == []
    assert trigger.approve(run_id, "read-token").status_code == 403
    answer = trigger.approve(run_id)
    assert answer.status_code == 202
    assert answer.json() == {"run_id": run_id, "status": "queued"}
    approved = trigger.store.get_run(run_id)
    assert (approved.status, approved.approved_by) == ("queued", "maintainer")
    assert [job.id for job in trigger.invoker.jobs] == [run_id]
    again = trigger.approve(run_id)
    assert again.status_code == 409


def test_a_pull_request_from_the_repository_itself_runs_at_once(trigger: Trigger) -> None:
    run_id = trigger.pull_request("acme/web", "d-2")["run_id"]
    assert trigger.store.get_run(run_id).status == "queued"
    assert [job.id for job in trigger.invoker.jobs] == [run_id]


def test_a_run_waiting_for_approval_can_be_cancelled(trigger: Trigger) -> None:
    run_id = trigger.pull_request("mallory/web", "d-3")["run_id"]
    headers = {"Authorization": "Bearer trigger-token"}
    answer = trigger.client.post(f"/api/v1/runs/{run_id}/cancel", headers=headers)
    assert answer.status_code == 202
    assert trigger.store.get_run(run_id).status == "cancelled"
    assert trigger.approve(run_id).status_code == 409
    assert trigger.invoker.jobs == []


def test_the_dashboard_shows_an_approve_button_that_lets_the_run_go(tmp_path: Path) -> None:
    import re

    import httpx
    from api_support import Served, serve_trigger

    with serve_trigger(tmp_path, CONFIG, Served) as served:
        client = httpx.Client(base_url=served.url, timeout=10, follow_redirects=False)
        csrf = re.search(r'name="csrf" value="([^"]*)"', client.get("/ui/login").text)
        assert csrf is not None
        login = {"token": "trigger-token", "csrf": csrf.group(1), "next": "/ui/"}
        assert client.post("/ui/login", data=login).status_code == 303
        trigger = Trigger(client, served.store, served.invoker)
        client.headers["Content-Type"] = "application/json"
        run_id = trigger.pull_request("mallory/web", "d-9")["run_id"]
        del client.headers["Content-Type"]
        page = client.get(f"/ui/runs/{run_id}").text
        assert 'action="/ui/runs/' + run_id + '/approve"' in page
        form = re.search(r'name="csrf" value="([^"]*)"', page)
        assert form is not None
        answer = client.post(f"/ui/runs/{run_id}/approve", data={"csrf": form.group(1)})
        assert answer.status_code == 303
        assert served.store.get_run(run_id).approved_by == "maintainer"
        assert [job.id for job in served.invoker.jobs] == [run_id]
        assert "/approve" not in client.get(f"/ui/runs/{run_id}").text
        client.close()
