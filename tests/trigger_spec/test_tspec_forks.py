"""A pull request is marked as from a fork when its head lives in another repository
than its base, on every provider; an unnamed head cannot be vouched for and counts as one."""

from __future__ import annotations

from typing import Any

import pytest
from scd_trigger_spec import Accepted, App, accept
from tspec_helpers import SECRET, dumps, github_headers, github_pr


def _app(provider: str) -> App:
    return App.model_validate(
        {"name": "web", "repo": "https://example.com/acme/web.git", "secret": SECRET,
         "provider": provider, "trigger": {"push": {}, "pull_request": {}}}
    )  # fmt: skip


def _hub_pr(head_repo: str | None) -> dict[str, Any]:
    payload = github_pr()
    payload["pull_request"]["base"]["repo"] = {"full_name": "acme/web"}
    if head_repo is not None:
        payload["pull_request"]["head"]["repo"] = {"full_name": head_repo}
    return payload


@pytest.mark.parametrize(
    ("head_repo", "fork"),
    [("acme/web", False), ("ACME/Web", False), ("mallory/web", True), (None, True)],
)
def test_a_github_pull_request_is_a_fork_when_its_head_repository_differs(
    head_repo: str | None, fork: bool
) -> None:
    body = dumps(_hub_pr(head_repo))
    result = accept(_app("github"), github_headers(body, "pull_request"), body)
    assert isinstance(result, Accepted)
    assert result.event.fork is fork


def _merge_request(source: int | None, target: int | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "iid": 3, "action": "open", "state": "opened", "source_branch": "feature",
        "target_branch": "main", "title": "Add x", "last_commit": {"id": "d" * 40},
    }  # fmt: skip
    if source is not None:
        attributes["source_project_id"] = source
    if target is not None:
        attributes["target_project_id"] = target
    return {
        "object_kind": "merge_request",
        "user": {"username": "octo", "name": "Octo"},
        "project": {"path_with_namespace": "acme/web",
                    "git_http_url": "https://gitlab.example/acme/web.git"},
        "object_attributes": attributes,
    }  # fmt: skip


@pytest.mark.parametrize("provider", ["gitlab", "codeup"])
@pytest.mark.parametrize(
    ("source", "target", "fork"), [(11, 11, False), (42, 11, True), (None, 11, True)]
)
def test_a_merge_request_is_a_fork_when_its_source_project_differs(
    provider: str, source: int | None, target: int | None, fork: bool
) -> None:
    headers = {"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": SECRET,
               "Content-Type": "application/json"}  # fmt: skip
    if provider == "codeup":
        headers = {"X-Codeup-Event": "Merge Request Hook", "X-Codeup-Token": SECRET,
                   "Content-Type": "application/json"}  # fmt: skip
    result = accept(_app(provider), headers, dumps(_merge_request(source, target)))
    assert isinstance(result, Accepted)
    assert result.event.fork is fork


def test_a_push_is_never_a_fork() -> None:
    from tspec_helpers import github_push

    body = dumps(github_push())
    result = accept(_app("github"), github_headers(body, "push"), body)
    assert isinstance(result, Accepted)
    assert result.event.fork is None
