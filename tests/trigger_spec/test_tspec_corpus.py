"""Upstream webhook payloads, signed on the fly: each decision and the normalised fields."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scd_trigger_spec import Accepted, App, Ignored, Pong, accept
from tspec_helpers import SECRET, corpus_dir, dumps, gitee_signature, github_headers

ALL_PRS = {"types": ["opened", "synchronize", "reopened", "closed", "merged"]}
APP = App.model_validate(
    {
        "name": "web",
        "repo": "https://example.com/r.git",
        "secret": SECRET,
        "trigger": {"push": {}, "pull_request": ALL_PRS},
    }
)
NOW = 1_700_000_000.0

DELETED = "was deleted; set push.deletions: true to run on deletions"
GITHUB = {
    "create__payload.json": "event 'create' is not a trigger event",
    "delete__payload.json": "event 'delete' is not a trigger event",
    "issues__opened.payload.json": "event 'issues' is not a trigger event",
    "release__published.payload.json": "event 'release' is not a trigger event",
    "push__payload.json": f"tag 'simple-tag' {DELETED}",
    "ping__payload.json": "pong",
    "pull_request__opened.payload.json": "opened",
    "pull_request__closed.payload.json": "closed",
    "pull_request__synchronize.payload.json": "synchronize",
    "push__with-new-branch.payload.json": "push",
}


def _outcome(result: Accepted | Ignored | Pong) -> str:
    if isinstance(result, Pong):
        return "pong"
    if isinstance(result, Ignored):
        return result.reason
    return (
        result.event.action
        if result.event.event_name == "pull_request"
        else (result.event.event_name)
    )


@pytest.mark.parametrize(("name", "expected"), sorted(GITHUB.items()))
def test_github_corpus_payload_decision(name: str, expected: str) -> None:
    body = (corpus_dir("webhooks", "github") / name).read_bytes()
    result = accept(APP, github_headers(body, name.split("__")[0]), body)
    assert _outcome(result) == expected


def test_github_new_branch_push_fields() -> None:
    body = (corpus_dir("webhooks", "github") / "push__with-new-branch.payload.json").read_bytes()
    result = accept(APP, github_headers(body, "push", delivery="gh-1"), body)
    assert isinstance(result, Accepted)
    event = result.event
    assert (event.provider, event.ref, event.branch, event.tag) == (
        "github",
        "refs/heads/master",
        "master",
        None,
    )
    assert event.commit == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert event.before == "0" * 40
    assert (event.message, event.pusher, event.action) == (
        "Initial commit",
        "Codertocat",
        "created",
    )
    assert event.clone_url == "https://github.com/Codertocat/Hello-World.git"
    assert (event.repository, event.repo_owner) == ("Codertocat/Hello-World", "Codertocat")
    assert event.added == ["README.md"]
    assert event.payload == json.loads(body)


def _provider_cases(provider: str) -> list[tuple[str, dict[str, str]]]:
    headers: dict[str, dict[str, str]] = json.loads(
        (corpus_dir("webhooks", provider) / "headers.json").read_text()
    )
    return sorted(headers.items())


GITLAB = {
    "branch_create.json": "push",
    "branch_delete.json": f"branch 'feature' {DELETED}",
    "issue_comment_create.json": "event 'Note Hook' is not a trigger event",
    "issue_create.json": "event 'Issue Hook' is not a trigger event",
    "merge_request_comment_create.json": "event 'Note Hook' is not a trigger event",
    "pipeline_hook.json": "event 'Pipeline Hook' is not a trigger event",
    "pull_request_close.json": "closed",
    "pull_request_create.json": "opened",
    "pull_request_merge.json": "merged",
    "push.json": "push",
    "tag_create.json": "tag",
    "tag_delete.json": f"tag 'v1.0.0' {DELETED}",
}


def test_gitlab_corpus_payload_decisions() -> None:
    folder = corpus_dir("webhooks", "gitlab")
    seen = {}
    for name, event_headers in _provider_cases("gitlab"):
        headers = {**event_headers, "X-Gitlab-Token": SECRET}
        seen[name] = _outcome(accept(APP, headers, (folder / name).read_bytes()))
    assert seen == GITLAB


def test_gitlab_merge_request_fields() -> None:
    body = (corpus_dir("webhooks", "gitlab") / "pull_request_merge.json").read_bytes()
    headers = {"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": SECRET}
    result = accept(APP, headers, body)
    assert isinstance(result, Accepted)
    event = result.event
    assert (event.pr_number, event.source_branch, event.target_branch) == (1, "feature", "master")
    assert (event.merged, event.commit) == (True, "78a76ee6b4992a6baf64c59fc4c44c7323d60438")
    assert (event.repository, event.repo_owner) == ("gitlab-org/hello-world", "gitlab-org")
    assert event.clone_url == "https://gitlab.com/gitlab-org/hello-world.git"


def test_gitlab_update_with_new_commits_is_synchronize() -> None:
    payload = json.loads(
        (corpus_dir("webhooks", "gitlab") / "pull_request_create.json").read_bytes()
    )
    payload["object_attributes"]["action"] = "update"
    headers = {"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": SECRET}
    edited = accept(APP, headers, dumps(payload))
    assert isinstance(edited, Ignored)
    assert "'edited'" in edited.reason
    payload["object_attributes"]["oldrev"] = "f" * 40
    synced = accept(APP, headers, dumps(payload))
    assert isinstance(synced, Accepted)
    assert synced.event.action == "synchronize"


GITEE = {
    "issue_hook_open.json": "event 'Issue Hook' is not a trigger event",
    "note_hook_issue_comment.json": "event 'Note Hook' is not a trigger event",
    "pr_merge.json": "merged",
    "pr_open.json": "opened",
    "pr_update.json": "synchronize",
    "push.json": "push",
    "push_branch_create.json": "push",
    "tag_create.json": "tag",
}


def test_gitee_corpus_payload_decisions_with_signed_tokens() -> None:
    folder = corpus_dir("webhooks", "gitee")
    stamp = int(NOW * 1000)
    seen = {}
    for name, event_headers in _provider_cases("gitee"):
        headers = {
            **event_headers,
            "X-Gitee-Token": gitee_signature(stamp),
            "X-Gitee-Timestamp": str(stamp),
        }
        seen[name] = _outcome(accept(APP, headers, (folder / name).read_bytes(), now=NOW))
    assert seen == GITEE


def test_gitee_push_fields() -> None:
    body = (corpus_dir("webhooks", "gitee") / "push.json").read_bytes()
    result = accept(APP, {"X-Gitee-Event": "Push Hook", "X-Gitee-Token": SECRET}, body)
    assert isinstance(result, Accepted)
    event = result.event
    assert (event.branch, event.commit) == ("feat-2-1", "9921e45e570db8e57e544650baf837932fb2100f")
    assert (event.message, event.pusher, event.modified) == ("feat-2-1\n", "kit101", ["modify.txt"])
    assert (event.repository, event.repo_owner) == ("kit101/drone-yml-test", "kit101")
    assert event.clone_url == "https://gitee.com/kit101/drone-yml-test.git"


CODEUP_PUSH: dict[str, Any] = {
    "object_kind": "push",
    "ref": "refs/heads/master",
    "before": "c" * 40,
    "after": "4fe524d23668336a778eb02ef79aee7f362a1940",
    "checkout_sha": "4fe524d23668336a778eb02ef79aee7f362a1940",
    "user_name": "dankun",
    "total_commits_count": 1,
    "commits": [{"id": "4fe524d23668336a778eb02ef79aee7f362a1940", "message": "更新 a.js"}],
    "repository": {
        "name": "fc-node12",
        "git_http_url": "https://codeup.aliyun.com/60b0/mamba/fc-node12.git",
        "homepage": "https://codeup.aliyun.com/60b0/mamba/fc-node12",
    },
}


def test_codeup_push_is_read_like_gitlab_with_its_own_headers() -> None:
    headers = {
        "X-Codeup-Event": "Push Hook",
        "X-Codeup-Token": SECRET,
        "X-Codeup-Delivery": "cd-1",
        "User-Agent": "okhttp/3.6.0",
    }
    result = accept(APP, headers, dumps(CODEUP_PUSH))
    assert isinstance(result, Accepted)
    assert result.dedup_key == "web:codeup:cd-1"
    event = result.event
    assert (event.provider, event.branch, event.pusher, event.message) == (
        "codeup",
        "master",
        "dankun",
        "更新 a.js",
    )
    assert (event.repository, event.repo_owner) == ("60b0/mamba/fc-node12", "60b0/mamba")


def test_codeup_merge_request_merge_is_merged() -> None:
    payload = {
        "object_kind": "merge_request",
        "object_attributes": {
            "action": "merge",
            "state": "merged",
            "iid": 1,
            "title": "更新 a.js",
            "source_branch": "test",
            "target_branch": "master",
            "last_commit": {"id": "3" * 40},
        },
        "repository": CODEUP_PUSH["repository"],
        "user": {"name": "dankun"},
    }
    headers = {"X-Codeup-Event": "Merge Request Hook", "X-Codeup-Token": SECRET}
    result = accept(APP, headers, dumps(payload))
    assert isinstance(result, Accepted)
    assert (result.event.action, result.event.merged, result.event.commit) == (
        "merged",
        True,
        "3" * 40,
    )
