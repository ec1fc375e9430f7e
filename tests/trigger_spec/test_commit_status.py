"""Commit statuses: each provider's API gets the right URL, auth header and body."""

from __future__ import annotations

import httpx
import pytest
from http_double import recorder
from scd_core.errors import BackendError
from scd_trigger_spec.providers.status import (
    CommitStatus,
    report_status,
    repository_path,
    status_request,
)

SHA = "0123456789abcdef0123456789abcdef01234567"


def _status(
    provider: str, api: str, status: str = "running", repo: str = "acme/web"
) -> CommitStatus:
    return CommitStatus(
        provider=provider,
        repository=repo,
        sha=SHA,
        status=status,
        context="scd/web",
        target_url="https://ci.example/ui/runs/r1",
        description="running",
        api=api,
    )


@pytest.mark.parametrize(
    ("provider", "repo", "path", "auth", "body"),
    [
        (
            "github",
            "acme/web",
            f"/repos/acme/web/statuses/{SHA}",
            ("authorization", "Bearer tok-1"),
            {"state": "pending", "context": "scd/web", "description": "running",
             "target_url": "https://ci.example/ui/runs/r1"},
        ),
        (
            "gitee",
            "acme/web",
            f"/repos/acme/web/statuses/{SHA}",
            ("authorization", "token tok-1"),
            {"state": "pending", "context": "scd/web", "description": "running",
             "target_url": "https://ci.example/ui/runs/r1"},
        ),
        (
            "gitlab",
            "group/sub/web",
            f"/projects/group%2Fsub%2Fweb/statuses/{SHA}",
            ("private-token", "tok-1"),
            {"state": "running", "name": "scd/web", "description": "running",
             "target_url": "https://ci.example/ui/runs/r1"},
        ),
        (
            "codeup",
            "60de7a68/web",
            f"/oapi/v1/codeup/organizations/60de7a68/repositories/60de7a68%2Fweb/commits/{SHA}/statuses",
            ("x-yunxiao-token", "tok-1"),
            {"state": "pending", "context": "scd/web", "description": "running",
             "targetUrl": "https://ci.example/ui/runs/r1"},
        ),
    ],
)  # fmt: skip
def test_each_provider_gets_its_url_auth_header_and_body(
    provider: str, repo: str, path: str, auth: tuple[str, str], body: dict[str, str]
) -> None:
    with recorder() as api, httpx.Client() as client:
        code = report_status(client, _status(provider, api.url, repo=repo), "tok-1")
    assert code == 201
    (request,) = api.requests
    assert request.method == "POST"
    assert request.path == path
    assert request.headers[auth[0]] == auth[1]
    assert request.json() == body


@pytest.mark.parametrize(
    ("status", "github", "gitlab"),
    [
        ("queued", "pending", "pending"),
        ("running", "pending", "running"),
        ("success", "success", "success"),
        ("failure", "failure", "failed"),
        ("error", "error", "failed"),
        ("cancelled", "error", "canceled"),
    ],
)
def test_scd_statuses_map_to_each_providers_words(status: str, github: str, gitlab: str) -> None:
    assert status_request(_status("github", "http://x", status)).body["state"] == github
    assert status_request(_status("gitlab", "http://x", status)).body["state"] == gitlab


def test_a_refusal_is_an_error_naming_the_code_but_never_the_token() -> None:
    with (
        recorder((500, {"message": "boom"})) as api,
        httpx.Client() as client,
        pytest.raises(BackendError) as caught,
    ):
        report_status(client, _status("github", api.url), "tok-secret-1")
    assert "500" in str(caught.value)
    assert "tok-secret-1" not in str(caught.value)


def test_public_apis_and_repository_paths() -> None:
    plain = CommitStatus("gitlab", "a/b", SHA, "success", "scd/web")
    call = status_request(plain, "https://gitlab.example.com/a/b.git")
    assert call.url.startswith("https://gitlab.example.com/api/v4/projects/a%2Fb/")
    github = status_request(CommitStatus("github", "a/b", SHA, "success", "scd/web"))
    assert github.url == f"https://api.github.com/repos/a/b/statuses/{SHA}"
    assert repository_path("https://github.com/acme/web.git") == "acme/web"
    assert repository_path("git@gitee.com:acme/web.git") == "acme/web"
