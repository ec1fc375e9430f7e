"""serverless-cd's contexts: git field for field, sts from the worker, SERVERLESS_CD."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scd_core.models import Event
from scd_engine.runtime.contexts import git_context, sts_context
from scd_trigger_spec.providers import Codeup, GitHub, GitLab
from scd_trigger_spec.providers.base import Parsed

from tests.engine.test_runtime_steps import run_yaml

SHA = "5" * 40


def _parsed(provider: Any, kind: str, payload: dict[str, Any]) -> Event:
    parsed = provider.parse(kind, payload, {}, "delivery-1")
    assert isinstance(parsed, Parsed)
    return parsed.event


def _github_push(ref: str) -> dict[str, Any]:
    return {
        "ref": ref,
        "after": SHA,
        "before": "0" * 39 + "1",
        "head_commit": {"id": SHA, "message": "fix it"},
        "pusher": {"name": "mona", "email": "mona@example.com"},
        "sender": {"login": "mona-login", "avatar_url": "https://avatars/mona"},
        "repository": {"clone_url": "https://github.com/acme/web.git", "full_name": "acme/web",
                       "owner": {"login": "acme"}},
    }  # fmt: skip


def test_a_github_push_gives_serverless_cds_git_fields_with_a_pusher_object() -> None:
    git = git_context(_parsed(GitHub(), "push", _github_push("refs/heads/main")))
    assert {k: git[k] for k in ("provider", "repo_owner", "clone_url", "ref", "branch", "tag",
                                "commit", "message", "event_name")} == {
        "provider": "github", "repo_owner": "acme",
        "clone_url": "https://github.com/acme/web.git", "ref": "refs/heads/main",
        "branch": "main", "tag": None, "commit": SHA, "message": "fix it", "event_name": "push",
    }  # fmt: skip
    assert git["pusher"] == {
        "name": "mona",
        "email": "mona@example.com",
        "avatar_url": "https://avatars/mona",
        "login": "mona",
    }


def test_a_tag_push_is_event_name_push_with_the_tag_set() -> None:
    event = _parsed(GitHub(), "push", _github_push("refs/tags/v1.2"))
    assert event.event_name == "tag"  # the trigger keeps scd's word
    git = git_context(event)
    assert (git["event_name"], git["tag"], git["branch"]) == ("push", "v1.2", None)


def test_a_gitlab_merge_request_pusher_is_the_display_name_not_the_username() -> None:
    payload = {
        "object_attributes": {"action": "open", "iid": 3, "source_branch": "dev",
                              "target_branch": "main", "last_commit": {"id": SHA},
                              "title": "Add it"},
        "user": {"username": "root", "name": "Administrator", "email": "admin@example.com",
                 "avatar_url": "https://gitlab/avatar"},
        "project": {"path_with_namespace": "acme/web", "git_http_url": "http://gitlab/acme/web.git"},
    }  # fmt: skip
    git = git_context(_parsed(GitLab(), "Merge Request Hook", payload))
    assert git["event_name"] == "pull_request"
    assert git["pusher"] == {
        "name": "Administrator",
        "email": "admin@example.com",
        "avatar_url": "https://gitlab/avatar",
        "login": "root",
    }


def test_a_codeup_merge_request_pusher_is_the_last_commits_author() -> None:
    payload = {
        "object_attributes": {
            "action": "open", "iid": 4, "source_branch": "dev", "target_branch": "master",
            "last_commit": {"id": SHA, "author": {"name": "dankun_simplemvc",
                                                  "email": "dankun@example.com"}},
            "title": "t", "target": {"web_url": "https://codeup.aliyun.com/x/web"},
        },
        "user": {"name": "aliyun_ram:123_Goa", "username": "aliyun_ram:123_Goa",
                 "avatar_url": "https://codeup/avatar"},
        "repository": {"git_http_url": "https://codeup.aliyun.com/x/web.git"},
    }  # fmt: skip
    git = git_context(_parsed(Codeup(), "Merge Request Hook", payload))
    assert git["pusher"]["name"] == "dankun_simplemvc"
    assert git["pusher"]["email"] == "dankun@example.com"
    assert git["pusher"]["avatar_url"] == "https://codeup/avatar"


def test_a_codeup_push_pusher_comes_from_user_name_and_user_email() -> None:
    payload = {
        "ref": "refs/heads/master", "after": SHA, "before": "1" * 40,
        "user_name": "dankun", "user_email": "dankun@example.com",
        "commits": [{"id": SHA, "message": "m"}],
        "repository": {"git_http_url": "https://codeup.aliyun.com/x/web.git",
                       "homepage": "https://codeup.aliyun.com/x/web"},
    }  # fmt: skip
    git = git_context(_parsed(Codeup(), "Push Hook", payload))
    assert git["pusher"] == {
        "name": "dankun",
        "email": "dankun@example.com",
        "avatar_url": None,
        "login": "dankun",
    }


def test_an_event_without_serverless_cd_pusher_fields_falls_back_to_scds_pusher() -> None:
    event = Event(provider="manual", event_name="manual", pusher="alice")
    assert git_context(event)["pusher"] == {
        "name": "alice",
        "email": None,
        "avatar_url": None,
        "login": "alice",
    }


def test_sts_reads_the_alibaba_cloud_variables_and_leaves_out_unset_ones() -> None:
    environ = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIkey", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s3"}
    assert sts_context(environ) == {"accessKeyId": "LTAIkey", "accessKeySecret": "s3"}


def test_pipelines_read_sts_masked_and_steps_see_serverless_cd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tFakeKeyId0001")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "fake-secret-value-0002")
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "fake-security-token-0003")
    text = (
        "steps:\n"
        "  - id: s\n"
        "    run: |\n"
        "      echo id=${{ sts.accessKeyId }} secret=${{ sts.accessKeySecret }}\n"
        "      echo token=${{ sts.securityToken }} sd=$SERVERLESS_CD\n"
        '      test -z "$ALIBABA_CLOUD_ACCESS_KEY_SECRET" && echo hidden-from-env\n'
        "  - run: echo $WHO-${{ git.event_name }}\n"
        "    id: p\n"
        "    env: {WHO: '${{ git.pusher.name }}'}\n"
    )
    event = _parsed(GitHub(), "push", _github_push("refs/tags/v2"))
    result, log, _ = run_yaml(tmp_path, text, event=event)
    assert result.status == "success"
    assert log("s") == "id=*** secret=***\ntoken=*** sd=serverless_cd\nhidden-from-env\n"
    assert log("p") == "mona-push\n"
