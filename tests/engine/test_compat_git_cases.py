"""The git context against serverless-cd's own trigger tests: same fields, same values.

Each case is a webhook fixture of serverless-cd's trigger tests with the result those
tests expect (tests/engine/data/README.md). scd's deliberate difference is left out:
a pull request's commit (scd builds the head commit). GitLab ``Job Hook`` fixtures are
not trigger events for scd, which trusts the event header.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scd_engine.runtime.contexts import git_context
from scd_trigger_spec.providers import Codeup, Gitee, GitHub, GitLab
from scd_trigger_spec.providers.base import Parsed

CASES = Path(__file__).with_name("data") / "serverless_cd_trigger_cases.json"
PROVIDERS: dict[str, tuple[Any, str]] = {
    "github": (GitHub(), "x-github-event"),
    "gitee": (Gitee(), "x-gitee-event"),
    "gitlab": (GitLab(), "x-gitlab-event"),
    "codeup": (Codeup(), "x-codeup-event"),
}


def _cases() -> list[Any]:
    params = []
    for n, case in enumerate(json.loads(CASES.read_text(encoding="utf-8"))):
        headers = {k.lower(): v for k, v in case["headers"].items()}
        event = headers.get(PROVIDERS[case["provider"]][1], "")
        marks = [pytest.mark.skip(reason="scd trusts the header: a Job Hook is no push")]
        params.append(
            pytest.param(
                case,
                id=f"{case['provider']}-{n}-{event}",
                marks=marks if event == "Job Hook" else (),
            )
        )
    return params


@pytest.mark.parametrize("case", _cases())
def test_the_git_context_has_serverless_cds_values(case: dict[str, Any]) -> None:
    provider, header = PROVIDERS[case["provider"]]
    headers = {k.lower(): v for k, v in case["headers"].items()}
    parsed = provider.parse(headers[header], case["body"], headers, "delivery")
    assert isinstance(parsed, Parsed)
    git = git_context(parsed.event)
    expected = case["expected"]
    assert {k: git["pusher"][k] for k in ("name", "email", "avatar_url")} == {
        k: expected["pusher"].get(k) for k in ("name", "email", "avatar_url")
    }
    assert git["clone_url"] == expected["url"]
    assert git["message"] == expected["commit"].get("message")
    if "push" in expected:
        assert git["event_name"] == "push"
        assert git["ref"] == expected["push"]["ref"]
        assert (git["branch"], git["tag"]) == (
            expected["push"].get("branch"),
            expected["push"].get("tag"),
        )
        assert git["commit"] == expected["commit"]["id"]
    else:
        assert git["event_name"] == "pull_request"
        assert git["source_branch"] == expected["pull_request"]["source_branch"]
        assert git["target_branch"] == expected["pull_request"]["target_branch"]
