"""The apps API over real HTTP on loopback: scd.yaml's apps merged with the store's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import Served, config_yaml, serve_trigger, token_yaml
from scd_core.models import Event, Run

ADMIN, READ = "apps-admin-token", "apps-read-token"
SECRET = "api-app-webhook-secret-value"


CONFIG = config_yaml(
    """\
  - name: web
    repo: https://github.com/acme/web.git
    secret: config-secret-value
    trigger: {push: {branches: [main]}}
""",
    token_yaml("admin", ADMIN, "admin"),
    token_yaml("reader", READ, "read"),
)


@dataclass
class Api(Served):
    def call(
        self, method: str, path: str, token: str | None = ADMIN, body: Any = None
    ) -> httpx.Response:
        return self.request(method, path, token, body)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with serve_trigger(tmp_path_factory.mktemp("apps-api"), CONFIG, Api) as served:
        yield served


def _name() -> str:
    return f"app-{uuid.uuid4().hex[:10]}"


def _spec(**extra: Any) -> dict[str, Any]:
    return {
        "repo": "https://gitee.com/acme/api.git",
        "provider": "gitee",
        "secret": SECRET,
        "secrets": {"TOKEN": "step-secret-value"},
        "trigger": {"push": {"branches": ["main"]}, "manual": True},
        **extra,
    }


def test_put_creates_an_app_then_replaces_it_and_never_shows_its_secret(api: Api) -> None:
    name = _name()
    created = api.call("PUT", f"/api/v1/apps/{name}", body=_spec())
    assert created.status_code == 201
    view = created.json()
    assert view["name"] == name
    assert (view["repo"], view["provider"], view["source"]) == (
        "https://gitee.com/acme/api.git",
        "gitee",
        "api",
    )
    assert view["pipeline"] == "serverless-pipeline.yaml"
    assert view["trigger"]["push"]["branches"] == ["main"]
    assert view["webhook_url"] == f"{api.url}/webhooks/{name}"
    assert view["last_run"] is None
    replaced = api.call("PUT", f"/api/v1/apps/{name}", body=_spec(pipeline="ci.yaml"))
    assert replaced.status_code == 200
    assert replaced.json()["pipeline"] == "ci.yaml"
    for answer in (created, replaced, api.call("GET", f"/api/v1/apps/{name}", token=READ)):
        assert SECRET not in answer.text
        assert "step-secret-value" not in answer.text
        assert "secret" not in answer.json()
    stored = api.store.get_app(name)
    assert stored is not None
    assert stored["secret"] == SECRET  # the store is the secret's home


def test_list_merges_config_and_api_apps_by_name_with_their_source(api: Api) -> None:
    name = _name()
    api.call("PUT", f"/api/v1/apps/{name}", body=_spec())
    answer = api.call("GET", "/api/v1/apps", token=READ)
    assert answer.status_code == 200
    apps = {app["name"]: app for app in answer.json()["apps"]}
    assert apps["web"]["source"] == "config"
    assert apps[name]["source"] == "api"
    names = [app["name"] for app in answer.json()["apps"]]
    assert names == sorted(names)
    assert "config-secret-value" not in answer.text
    assert SECRET not in answer.text


def test_an_app_shows_its_last_run(api: Api) -> None:
    event = Event(provider="github", event_name="push", branch="main", commit="b" * 40)
    run_id = uuid.uuid4().hex
    api.store.create_run(Run(id=run_id, app="web", dedup_key=run_id, event=event))
    last = api.call("GET", "/api/v1/apps/web", token=READ).json()["last_run"]
    assert last["id"] == run_id
    assert last["commit"] == "b" * 40


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"repo": "r", "provider": "svn", "insecure_no_secret": True}, "provider"),
        ({"provider": "github", "insecure_no_secret": True}, "repo"),
        ({"repo": "r", "insecure_no_secret": True, "colour": "red"}, "colour"),
        ({"repo": "r", "insecure_no_secret": True, "trigger": {"push": 3}}, "trigger.push"),
        ({"repo": "r"}, "secret"),
        ({"repo": "r", "insecure_no_secret": True, "name": "other"}, "name"),
    ],
)
def test_put_validates_like_scd_yaml_and_names_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    answer = api.call("PUT", f"/api/v1/apps/{_name()}", body=body)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"
    assert field in answer.json()["detail"]


def test_put_of_a_body_that_is_not_a_mapping_is_400(api: Api) -> None:
    assert api.call("PUT", f"/api/v1/apps/{_name()}", body=[1, 2]).status_code == 400


def test_a_bad_app_name_in_the_path_is_400(api: Api) -> None:
    answer = api.call("PUT", "/api/v1/apps/Bad_Name!", body=_spec())
    assert answer.status_code == 400
    assert "name" in answer.json()["detail"]


def test_config_apps_cannot_be_replaced_or_deleted_through_the_api(api: Api) -> None:
    assert api.call("PUT", "/api/v1/apps/web", body=_spec()).status_code == 409
    assert api.call("DELETE", "/api/v1/apps/web").status_code == 409
    assert api.call("GET", "/api/v1/apps/web").json()["source"] == "config"


def test_delete_removes_an_api_app_then_it_is_404(api: Api) -> None:
    name = _name()
    api.call("PUT", f"/api/v1/apps/{name}", body=_spec())
    deleted = api.call("DELETE", f"/api/v1/apps/{name}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert api.call("GET", f"/api/v1/apps/{name}").status_code == 404
    assert api.call("DELETE", f"/api/v1/apps/{name}").status_code == 404


def test_writing_apps_needs_the_admin_scope_and_reading_a_token(api: Api) -> None:
    name = _name()
    assert api.call("PUT", f"/api/v1/apps/{name}", token=READ, body=_spec()).status_code == 403
    assert api.call("DELETE", "/api/v1/apps/web", token=READ).status_code == 403
    assert api.call("GET", "/api/v1/apps", token=None).status_code == 401
    assert api.call("GET", "/api/v1/apps/web", token="nope").status_code == 401
    assert api.store.get_app(name) is None


def test_put_with_a_lone_surrogate_is_400_naming_its_field(api: Api) -> None:
    body = (
        b'{"repo": "r", "insecure_no_secret": true, "trigger": {"push": {"branches": ["\\ud800"]}}}'
    )
    answer = httpx.put(
        f"{api.url}/api/v1/apps/{_name()}",
        content=body,
        headers={"authorization": f"Bearer {ADMIN}", "content-type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"
    assert answer.json()["detail"].startswith("trigger.push.branches[0]: ")


@pytest.mark.parametrize(
    "repo", ["--upload-pack=touch /tmp/x", "ext::sh -c id", "http://example.com/web.git"]
)
def test_put_refuses_repository_urls_git_would_misread(api: Api, repo: str) -> None:
    answer = api.call("PUT", f"/api/v1/apps/{_name()}", body=_spec(repo=repo))
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("repo")


def test_a_server_that_refuses_local_repositories_refuses_them_at_registration(
    tmp_path: Path,
) -> None:
    with serve_trigger(tmp_path, CONFIG, Api, allow_local_repos=False) as strict:
        for repo in ("file:///srv/git/web.git", "/srv/git/web.git"):
            answer = strict.call("PUT", "/api/v1/apps/local", body=_spec(repo=repo))
            assert answer.status_code == 400
            assert "local repositories are not allowed" in answer.json()["detail"]
        remote = strict.call("PUT", "/api/v1/apps/remote", body=_spec())
        assert remote.status_code == 201
