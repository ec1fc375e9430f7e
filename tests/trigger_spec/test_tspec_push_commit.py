"""A push names the commit it moved its ref to: one without ``after`` is refused at the door."""

from __future__ import annotations

from typing import Any

import pytest
from scd_core.errors import BadRequest
from scd_trigger_spec import Accepted, App, accept
from tspec_helpers import SECRET, dumps, github_headers, github_push


def _app(provider: str = "github") -> App:
    return App.model_validate(
        {"name": "web", "repo": "https://example.com/acme/web.git", "secret": SECRET,
         "provider": provider}
    )  # fmt: skip


def _gitlab_push(**extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "object_kind": "push",
        "ref": "refs/heads/main",
        "before": "b" * 40,
        "after": "a" * 40,
        "checkout_sha": "a" * 40,
        "user_username": "octo",
        "commits": [{"id": "a" * 40, "message": "m", "added": [], "modified": [], "removed": []}],
        "total_commits_count": 1,
        "project": {"path_with_namespace": "acme/web",
                    "git_http_url": "https://gitlab.example/acme/web.git"},
    }  # fmt: skip
    payload.update(extra)
    return payload


def _gitlab_headers() -> dict[str, str]:
    return {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET,
            "Content-Type": "application/json"}  # fmt: skip


@pytest.mark.parametrize("after", [None, "", "main", "A" * 40, "a" * 39, "$(id)"])
def test_a_signed_github_push_without_a_commit_sha_is_refused_naming_the_field(
    after: str | None,
) -> None:
    payload = github_push()
    if after is None:
        del payload["after"]
    else:
        payload["after"] = after
    body = dumps(payload)
    with pytest.raises(BadRequest) as caught:
        accept(_app(), github_headers(body, "push"), body)
    assert "'after'" in str(caught.value)


def test_a_github_push_with_its_commit_and_a_branch_deletion_are_accepted() -> None:
    body = dumps(github_push())
    assert isinstance(accept(_app(), github_headers(body, "push"), body), Accepted)
    deletion = dumps(github_push(after="0" * 40, deleted=True))
    result = accept(_app(), github_headers(deletion, "push", delivery="d-2"), deletion)
    assert not isinstance(result, Accepted) or result.event.commit is None


def test_a_gitlab_push_without_after_is_refused_and_with_it_accepted() -> None:
    good = dumps(_gitlab_push())
    result = accept(_app("gitlab"), _gitlab_headers(), good)
    assert isinstance(result, Accepted)
    assert result.event.commit == "a" * 40
    missing = _gitlab_push()
    del missing["after"]
    with pytest.raises(BadRequest, match="'after'"):
        accept(_app("gitlab"), _gitlab_headers(), dumps(missing))
