"""The trigger app's answers, through starlette's TestClient (lifespan included)."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from scd_core.invokers.memory import MemoryInvoker
from scd_core.settings import Settings
from scd_core.store import RunStore
from scd_core.stores import open_store

from functions.appconfig import parse_config
from functions.trigger.app import create_app
from functions.trigger.auth import hash_token
from functions.trigger.testing import asgi_client, github_push, github_signature

SECRET = "web-hook-secret-value"
CONFIG = f"""
apps:
  - name: web
    repo: https://github.com/acme/web.git
    provider: github
    secret: ${{env:WEB_SECRET}}
    trigger:
      push: {{branches: [main]}}
      schedule: [{{cron: '0 0 2 * * *'}}]
      manual: true
  - name: locked
    repo: https://github.com/acme/locked.git
    secret: another-secret
    trigger:
      push: {{}}
      manual: false
tokens:
  - {{name: ci, sha256: {hash_token("trigger-token")}, scopes: [trigger]}}
  - {{name: viewer, sha256: {hash_token("read-token")}, scopes: [read]}}
  - {{name: root, sha256: {hash_token("admin-token")}, scopes: [admin]}}
"""


class Trigger:
    """A running trigger app with its store and invoker at hand."""

    def __init__(self, client: Any, store: RunStore, invoker: MemoryInvoker) -> None:
        self.client = client
        self.store = store
        self.invoker = invoker

    def push(
        self, body: bytes, *, delivery: str = "d-1", secret: str = SECRET, **headers: str
    ) -> httpx.Response:
        sent = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": github_signature(secret, body),
            **headers,
        }
        return self.client.post("/webhooks/web", content=body, headers=sent)


@pytest.fixture
def trigger(tmp_path: Path) -> Iterator[Trigger]:
    config = parse_config(CONFIG, "scd.yaml", {"WEB_SECRET": SECRET})
    store = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    invoker = MemoryInvoker()
    settings = Settings(data_dir=tmp_path, max_body_bytes=64 * 1024)
    api = create_app(settings, config=config, store=store, invoker=invoker)
    with asgi_client(api) as client:
        yield Trigger(client, store, invoker)
    store.close()


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status
    body: dict[str, str] = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    assert SECRET not in body["detail"]
    return body


def test_healthz_answers_ok(trigger: Trigger) -> None:
    response = trigger.client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_signed_matching_push_records_a_run_and_dispatches_its_job(trigger: Trigger) -> None:
    response = trigger.push(github_push("refs/heads/main", commit="a" * 40))
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    run = trigger.store.get_run(body["run_id"])
    assert (run.app, run.status, run.event.branch) == ("web", "queued", "main")
    [job] = trigger.invoker.jobs
    assert (job.id, job.app, job.ref, job.commit) == (run.id, "web", "refs/heads/main", "a" * 40)
    assert job.clone_url == "https://github.com/acme/web.git"


def test_the_job_clones_the_apps_repository_not_the_one_the_payload_names(
    trigger: Trigger,
) -> None:
    response = trigger.push(github_push(repo="mallory/evil"))
    assert response.status_code == 202
    run = trigger.store.get_run(response.json()["run_id"])
    assert run.event.clone_url is not None
    assert "mallory/evil" in run.event.clone_url
    [job] = trigger.invoker.jobs
    assert job.clone_url == "https://github.com/acme/web.git"


def test_run_ids_are_time_sortable_hex(trigger: Trigger) -> None:
    first = trigger.push(github_push(), delivery="d-1").json()["run_id"]
    second = trigger.push(github_push(), delivery="d-2").json()["run_id"]
    assert len(first) == 32
    int(first, 16)
    assert first < second


def test_a_redelivery_answers_the_first_run_and_starts_nothing(trigger: Trigger) -> None:
    first = trigger.push(github_push(), delivery="same").json()
    again = trigger.push(github_push(), delivery="same")
    assert again.status_code == 200
    assert again.json() == {"run_id": first["run_id"], "duplicate": True}
    assert [job.id for job in trigger.invoker.jobs] == [first["run_id"]]


def test_push_to_another_branch_is_ignored_with_a_reason(trigger: Trigger) -> None:
    response = trigger.push(github_push("refs/heads/dev"))
    assert response.status_code == 200
    assert "dev" in response.json()["ignored"]
    assert trigger.invoker.jobs == []


def test_ping_answers_pong(trigger: Trigger) -> None:
    body = json.dumps({"zen": "Keep it simple.", "hook_id": 1}).encode()
    response = trigger.push(body, **{"X-GitHub-Event": "ping"})
    assert (response.status_code, response.json()) == (200, {"pong": True})


def test_form_encoded_github_delivery_is_accepted(trigger: Trigger) -> None:
    form = urllib.parse.urlencode({"payload": github_push().decode()}).encode()
    response = trigger.push(form, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 202
    assert len(trigger.invoker.jobs) == 1


def test_bad_or_missing_signature_is_401_and_records_nothing(trigger: Trigger) -> None:
    assert_error(trigger.push(github_push(), secret="wrong"), 401, "unauthorized")
    body = github_push()
    response = trigger.client.post(
        "/webhooks/web",
        content=body,
        headers={"Content-Type": "application/json", "X-GitHub-Event": "push"},
    )
    assert_error(response, 401, "unauthorized")
    assert trigger.invoker.jobs == []
    assert trigger.store.list_runs() == ([], None)


def test_malformed_signed_body_is_400(trigger: Trigger) -> None:
    assert_error(trigger.push(b"{not json"), 400, "bad_request")


def test_unknown_app_is_404(trigger: Trigger) -> None:
    response = trigger.client.post(
        "/webhooks/nope", content=b"{}", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 404, "not_found")


def test_unsupported_content_type_is_415(trigger: Trigger) -> None:
    assert_error(
        trigger.push(github_push(), **{"Content-Type": "text/plain"}), 415, "unsupported_media_type"
    )


def test_declared_length_over_the_cap_is_413(trigger: Trigger) -> None:
    big = b"{" + b" " * (70 * 1024) + b"}"
    assert_error(trigger.push(big), 413, "payload_too_large")


def test_chunked_body_over_the_cap_is_413(trigger: Trigger) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 1024

    response = trigger.client.post(
        "/webhooks/web",
        content=chunks(),
        headers={"Content-Type": "application/json", "X-GitHub-Event": "push"},
    )
    assert_error(response, 413, "payload_too_large")


def test_unknown_route_and_wrong_method_answer_in_our_shape(trigger: Trigger) -> None:
    assert_error(trigger.client.get("/nowhere"), 404, "not_found")
    assert_error(trigger.client.get("/webhooks/web"), 405, "method_not_allowed")


def manual(
    trigger: Trigger,
    app: str = "web",
    token: str | None = "trigger-token",
    *,
    json: object = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {"Authorization": f"Bearer {token}"} if token else {}
    sent.update(headers or {})
    url = f"/api/v1/apps/{app}/runs"
    if content is not None:
        return trigger.client.post(url, headers=sent, content=content)
    return trigger.client.post(url, headers=sent, json=json)


def test_manual_run_with_trigger_token_is_queued(trigger: Trigger) -> None:
    response = manual(trigger, json={"ref": "refs/heads/main", "inputs": {"level": "debug"}})
    assert response.status_code == 202
    run_id = response.json()["run_id"]
    run = trigger.store.get_run(run_id)
    assert run.event.event_name == "manual"
    assert run.event.inputs == {"level": "debug"}
    assert [job.id for job in trigger.invoker.jobs] == [run_id]


def test_admin_token_may_trigger_too(trigger: Trigger) -> None:
    response = manual(trigger, token="admin-token", json={"ref": "main"})
    assert response.status_code == 202


def test_manual_run_without_or_with_a_bad_token_is_401(trigger: Trigger) -> None:
    response = manual(trigger, token=None, json={"ref": "main"})
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert_error(manual(trigger, token="guess", json={"ref": "main"}), 401, "unauthorized")
    assert trigger.invoker.jobs == []


def test_manual_run_without_trigger_scope_is_403(trigger: Trigger) -> None:
    assert_error(manual(trigger, token="read-token", json={"ref": "main"}), 403, "forbidden")


def test_manual_run_of_an_app_that_disallows_it_is_403(trigger: Trigger) -> None:
    body = assert_error(manual(trigger, app="locked", json={"ref": "main"}), 403, "forbidden")
    assert "manual" in body["detail"]


def test_manual_run_of_an_unknown_app_is_404(trigger: Trigger) -> None:
    assert_error(manual(trigger, app="ghost", json={"ref": "main"}), 404, "not_found")


def test_manual_body_errors_are_400_naming_the_field(trigger: Trigger) -> None:
    body = assert_error(manual(trigger, json={"commit": "abc123"}), 400, "bad_request")
    assert "ref" in body["detail"]
    body = assert_error(
        manual(trigger, json={"ref": "main", "inputs": {"n": 1}}), 400, "bad_request"
    )
    assert "inputs.n" in body["detail"]
    assert_error(
        manual(trigger, content=b"{", headers={"Content-Type": "application/json"}),
        400,
        "bad_request",
    )


def test_idempotency_key_makes_a_repeat_a_duplicate(trigger: Trigger) -> None:
    headers = {"Idempotency-Key": "deploy-42"}
    first = manual(trigger, json={"ref": "main"}, headers=headers)
    again = manual(trigger, json={"ref": "main"}, headers=headers)
    run_id = first.json()["run_id"]
    assert again.status_code == 200
    assert again.json() == {"run_id": run_id, "duplicate": True}
    assert len(trigger.invoker.jobs) == 1


def test_openapi_describes_the_routes_and_their_answers(trigger: Trigger) -> None:
    doc = trigger.client.get("/openapi.json").json()
    webhook = doc["paths"]["/webhooks/{app}"]["post"]
    assert {"202", "200", "401", "404", "413", "415"} <= set(webhook["responses"])
    assert "application/x-www-form-urlencoded" in webhook["requestBody"]["content"]
    runs = doc["paths"]["/api/v1/apps/{app}/runs"]["post"]
    schema = runs["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["ref"]
    assert "/invoke" in doc["paths"]
    assert "/healthz" in doc["paths"]


@pytest.mark.parametrize("field", ["message", "ref"])
def test_a_signed_push_holding_a_lone_surrogate_is_400_naming_it_and_records_nothing(
    trigger: Trigger, field: str
) -> None:
    payload = json.loads(github_push("refs/heads/main", commit="a" * 40))
    if field == "ref":
        payload["ref"] = "refs/heads/mai\ud800n"
    else:
        payload["head_commit"]["message"] = "x\ud800y"
    body = json.dumps(payload).encode()  # ensure_ascii: the surrogate travels as \ud800
    assert b"\\ud800" in body
    answer = assert_error(trigger.push(body), 400, "bad_request")
    assert "lone surrogate" in answer["detail"]
    assert ("head_commit.message" if field == "message" else "'ref'") in answer["detail"]
    assert trigger.invoker.jobs == []
    assert trigger.store.list_runs() == ([], None)
    assert trigger.client.get("/healthz").status_code == 200
