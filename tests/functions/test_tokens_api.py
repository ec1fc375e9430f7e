"""The tokens API over real HTTP on loopback: created tokens work, revoked ones fail at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from api_support import WEB_APP, Served, config_yaml, digest, serve_trigger, token_yaml

ADMIN, READ = "tokens-admin-token", "tokens-read-token"


CONFIG = config_yaml(
    WEB_APP, token_yaml("admin", ADMIN, "admin"), token_yaml("reader", READ, "read")
)


@dataclass
class Api(Served):
    def call(
        self, method: str, path: str, token: str | None = ADMIN, body: Any = None
    ) -> httpx.Response:
        return self.request(method, path, token, body)

    def create(self, *scopes: str) -> tuple[str, str]:
        name = f"t-{uuid.uuid4().hex[:10]}"
        answer = self.call("POST", "/api/v1/tokens", body={"name": name, "scopes": list(scopes)})
        assert answer.status_code == 201
        return name, answer.json()["token"]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with serve_trigger(tmp_path_factory.mktemp("tokens-api"), CONFIG, Api) as served:
        yield served


def test_a_created_token_is_shown_once_and_stored_as_its_sha256(api: Api) -> None:
    name = f"t-{uuid.uuid4().hex[:10]}"
    answer = api.call("POST", "/api/v1/tokens", body={"name": name, "scopes": ["trigger", "read"]})
    assert answer.status_code == 201
    body = answer.json()
    assert (body["name"], body["scopes"]) == (name, ["read", "trigger"])
    record = api.store.find_token(digest(body["token"]))
    assert record is not None
    assert record.name == name
    listed = api.call("GET", "/api/v1/tokens")
    assert body["token"] not in listed.text
    assert digest(body["token"]) not in listed.text


def test_a_created_token_reads_with_its_scope_and_is_403_beyond_it(api: Api) -> None:
    _, token = api.create("read")
    assert api.call("GET", "/api/v1/runs", token=token).status_code == 200
    assert api.call("GET", "/api/v1/tokens", token=token).status_code == 403
    assert api.call("POST", f"/api/v1/runs/{'f' * 32}/cancel", token=token).status_code == 403


def test_a_revoked_token_is_401_on_the_very_next_request(api: Api) -> None:
    name, token = api.create("admin")
    assert api.call("GET", "/api/v1/apps", token=token).status_code == 200
    assert api.call("DELETE", f"/api/v1/tokens/{name}", token=token).status_code == 204
    after = api.call("GET", "/api/v1/apps", token=token)
    assert after.status_code == 401
    assert after.json()["error"] == "unauthorized"
    listed = {t["name"]: t for t in api.call("GET", "/api/v1/tokens").json()["tokens"]}
    assert listed[name]["revoked"] is True


def test_list_shows_config_and_api_tokens_with_their_source(api: Api) -> None:
    name, _ = api.create("read", "trigger")
    tokens = api.call("GET", "/api/v1/tokens").json()["tokens"]
    by_name = {t["name"]: t for t in tokens}
    assert by_name["admin"] == {
        "name": "admin",
        "scopes": ["admin"],
        "source": "config",
        "created_at": None,
        "revoked": False,
    }
    assert by_name[name]["source"] == "api"
    assert by_name[name]["scopes"] == ["read", "trigger"]
    assert by_name[name]["created_at"] is not None


def test_a_taken_name_is_409_and_config_tokens_cannot_be_revoked(api: Api) -> None:
    name, _ = api.create("read")
    again = api.call("POST", "/api/v1/tokens", body={"name": name, "scopes": ["read"]})
    assert again.status_code == 409
    assert (
        api.call("POST", "/api/v1/tokens", body={"name": "reader", "scopes": ["read"]}).status_code
        == 409
    )
    assert api.call("DELETE", "/api/v1/tokens/reader").status_code == 409
    assert api.call("DELETE", "/api/v1/tokens/nobody").status_code == 404
    assert api.call("GET", "/api/v1/runs", token=READ).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["root"]},
        {"name": "", "scopes": ["read"]},
        {"name": "a b", "scopes": ["read"]},
        {"scopes": ["read"]},
        {"name": "x", "scopes": ["read"], "token": "chosen"},
    ],
)
def test_a_bad_token_request_is_400(api: Api, body: dict[str, Any]) -> None:
    answer = api.call("POST", "/api/v1/tokens", body=body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"


def test_tokens_routes_need_a_token_with_the_admin_scope(api: Api) -> None:
    body = {"name": "never", "scopes": ["admin"]}
    assert api.call("POST", "/api/v1/tokens", token=None, body=body).status_code == 401
    assert api.call("POST", "/api/v1/tokens", token=READ, body=body).status_code == 403
    assert api.call("GET", "/api/v1/tokens", token="wrong").status_code == 401
    assert api.call("DELETE", "/api/v1/tokens/reader", token=READ).status_code == 403
    assert all(t.name != "never" for t in api.store.list_tokens())


def test_health_and_webhooks_need_no_token(api: Api) -> None:
    assert api.call("GET", "/healthz", token=None).status_code == 200
    hook = httpx.post(
        f"{api.url}/webhooks/web",
        headers={"x-github-event": "ping", "x-github-delivery": "1"},
        json={"zen": "hi"},
        timeout=10,
    )
    assert hook.status_code not in (401, 403)
