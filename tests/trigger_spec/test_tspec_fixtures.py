"""Each provider's own fixtures (tests/trigger_spec/fixtures): signatures verify on the stored
bytes, a changed byte or a wrong secret is refused, and each delivery parses to the Event
fields scd reads. Runs on any machine: nothing here needs the upstream corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from factories import make_app
from scd_core.errors import AuthError
from scd_trigger_spec import Accepted, Pong, accept, detect_provider

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SECRET = "fixture-webhook-secret"
NOW = 1_767_225_600.0 + 30  # half a minute after the Gitee fixtures were signed
ALL_PRS = ["opened", "synchronize", "reopened", "closed", "merged"]
APP = make_app(secret=SECRET, trigger={"push": {}, "pull_request": {"types": ALL_PRS}})

GH_FILES = (["scripts/build.sh"], ["README.md"], ["docs/old.md"])
# (provider, case) -> the Event fields that case must give, and its dedup key's delivery id
EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("github", "push"): {
        "event_name": "push",
        "ref": "refs/heads/main",
        "branch": "main",
        "tag": None,
        "commit": "2" * 40,
        "before": "1" * 40,
        "message": "Fix the README\n\nTypos only.",
        "pusher": "octo-dev",
        "files": GH_FILES,
        "repository": "acme/web",
        "repo_owner": "acme",
        "clone_url": "https://github.com/acme/web.git",
        "delivery_id": "3f6e6a80-0a1b-11f1-8a3e-5c1b2d3e4f50",
    },
    ("github", "tag_push"): {
        "event_name": "tag",
        "action": "created",
        "ref": "refs/tags/v1.2.0",
        "branch": None,
        "tag": "v1.2.0",
        "commit": "3" * 40,
        "pusher": "release-bot",
    },
    ("github", "pull_request_opened"): {
        "event_name": "pull_request",
        "action": "opened",
        "ref": "refs/pull/17/head",
        "branch": "fast-tests",
        "commit": "4" * 40,
        "pr_number": 17,
        "source_branch": "fast-tests",
        "target_branch": "main",
        "merged": False,
        "message": "Speed up the tests",
    },
    ("github", "pull_request_merged"): {
        "action": "merged",
        "ref": "refs/heads/main",
        "branch": "main",
        "commit": "5" * 40,
        "merged": True,
    },
    ("gitee", "push"): {
        "event_name": "push",
        "branch": "develop",
        "commit": "b" * 40,
        "message": "更新 接口文档",
        "pusher": "li-lei",
        "files": (["docs/api.md"], ["src/main.py"], []),
        "repository": "acme/web",
        "repo_owner": "acme",
        "clone_url": "https://gitee.com/acme/web.git",
    },
    ("gitee", "push_password"): {"branch": "main", "commit": "d" * 40, "pusher": "han-meimei"},
    ("gitee", "tag_push"): {"event_name": "tag", "tag": "v2.0.0", "commit": "e" * 40},
    ("gitee", "merge_request_open"): {
        "event_name": "pull_request",
        "action": "opened",
        "ref": "refs/pull/8/head",
        "commit": "f" * 40,
        "pr_number": 8,
        "source_branch": "cache",
        "target_branch": "develop",
        "message": "接入 缓存",
        "pusher": "han-meimei",
    },
    ("gitee", "merge_request_update"): {"action": "synchronize", "commit": "f" * 40},
    ("gitlab", "push"): {
        "event_name": "push",
        "ref": "refs/heads/feature/login",
        "branch": "feature/login",
        "commit": "7" * 40,
        "message": "Validate the password\n",
        "pusher": "jdoe",
        "files": (["app/login.py"], ["app/login.py"], ["app/tmp.py"]),
        "repository": "acme/platform/web",
        "repo_owner": "acme/platform",
        "clone_url": "https://gitlab.example.com/acme/platform/web.git",
        "delivery_id": "0b9f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4",
    },
    ("gitlab", "tag_push"): {
        "event_name": "tag",
        "action": "created",
        "tag": "v3.1.0",
        "commit": "8" * 40,
    },
    ("gitlab", "merge_request_open"): {
        "event_name": "pull_request",
        "action": "opened",
        "ref": "refs/merge-requests/42/head",
        "branch": "feature/login",
        "commit": "7" * 40,
        "pr_number": 42,
        "merged": False,
    },
    ("gitlab", "merge_request_merge"): {
        "action": "merged",
        "ref": "refs/heads/main",
        "commit": "9" * 40,
        "merged": True,
    },
    ("codeup", "push"): {
        "event_name": "push",
        "branch": "master",
        "commit": "3" * 40,
        "message": "修复 登录超时\n",
        "pusher": "wang-wu",
        "repository": "61a0b2c3/backend/api",
        "repo_owner": "61a0b2c3/backend",
        "clone_url": "https://codeup.aliyun.com/61a0b2c3/backend/api.git",
        "delivery_id": "cu-0f1e2d3c4b5a",
    },
    ("codeup", "tag_push"): {"event_name": "tag", "tag": "release-20260101", "commit": "4" * 40},
    ("codeup", "merge_request_update"): {
        "action": "synchronize",
        "ref": "refs/heads/rate-limit",
        "commit": "5" * 40,
        "pr_number": 3,
        "pusher": "zhao-liu",
    },
    ("codeup", "merge_request_merge"): {
        "action": "merged",
        "ref": "refs/heads/master",
        "merged": True,
    },
}
SIGNED_CASES = sorted(EXPECTED)


def delivery(provider: str, case: str) -> tuple[dict[str, str], bytes]:
    """The headers and the body bytes of one fixture."""
    folder = FIXTURES / provider
    headers: dict[str, str] = json.loads((folder / f"{case}.headers.json").read_text("utf-8"))
    return headers, (folder / f"{case}.body.json").read_bytes()


def test_every_fixture_has_expectations_and_every_provider_has_fixtures() -> None:
    on_disk = {
        (path.parent.name, path.name.removesuffix(".body.json"))
        for path in FIXTURES.glob("*/*.body.json")
    }
    assert on_disk - {("github", "ping")} == set(EXPECTED)
    assert {provider for provider, _ in on_disk} == {"github", "gitee", "gitlab", "codeup"}


@pytest.mark.parametrize(("provider", "case"), SIGNED_CASES)
def test_fixture_verifies_and_parses_to_the_expected_event(provider: str, case: str) -> None:
    headers, body = delivery(provider, case)
    lower = {name.lower(): value for name, value in headers.items()}
    assert detect_provider(APP, lower).name == provider
    result = accept(APP, headers, body, now=NOW)
    assert isinstance(result, Accepted)
    event = result.event
    assert event.provider == provider
    expected = dict(EXPECTED[(provider, case)])
    files = expected.pop("files", None)
    if files is not None:
        assert (event.added, event.modified, event.removed) == files
    for field, value in expected.items():
        assert getattr(event, field) == value, field
    if "delivery_id" in expected:
        assert result.dedup_key == f"web:{provider}:{expected['delivery_id']}"


@pytest.mark.parametrize(("provider", "case"), SIGNED_CASES)
def test_the_wrong_secret_is_refused(provider: str, case: str) -> None:
    headers, body = delivery(provider, case)
    with pytest.raises(AuthError):
        accept(make_app(secret="another-secret"), headers, body, now=NOW)


@pytest.mark.parametrize("case", ["push", "pull_request_merged", "ping"])
def test_one_changed_body_byte_breaks_the_github_signature(case: str) -> None:
    headers, body = delivery("github", case)
    tampered = body.replace(b'"web"', b'"wex"', 1)
    assert tampered != body
    with pytest.raises(AuthError, match="X-Hub-Signature-256 does not match"):
        accept(APP, headers, tampered)


def test_github_without_its_signature_header_is_refused() -> None:
    headers, body = delivery("github", "push")
    del headers["X-Hub-Signature-256"]
    with pytest.raises(AuthError, match="missing X-Hub-Signature-256"):
        accept(APP, headers, body)


def test_github_ping_is_a_pong_once_verified() -> None:
    headers, body = delivery("github", "ping")
    assert isinstance(accept(APP, headers, body), Pong)


def test_a_gitee_signature_is_refused_outside_its_time_window() -> None:
    headers, body = delivery("gitee", "push")
    with pytest.raises(AuthError, match="outside the 3600 s window"):
        accept(APP, headers, body, now=NOW + 2 * 3600)
    assert isinstance(accept(APP, headers, body, now=NOW - 3000), Accepted)


def test_gitee_secrets_in_the_body_never_reach_the_event() -> None:
    for case in ("push", "push_password"):
        headers, body = delivery("gitee", case)
        result = accept(APP, headers, body, now=NOW)
        assert isinstance(result, Accepted)
        payload = result.event.payload
        assert "password" not in payload
        assert "sign" not in payload
        assert SECRET not in result.event.model_dump_json()


@pytest.mark.parametrize("provider", ["gitlab", "codeup"])
def test_a_token_provider_without_its_token_header_is_refused(provider: str) -> None:
    headers, body = delivery(provider, "push")
    name = next(key for key in headers if key.lower().endswith("-token"))
    del headers[name]
    with pytest.raises(AuthError, match=f"missing {name}"):
        accept(APP, headers, body)
