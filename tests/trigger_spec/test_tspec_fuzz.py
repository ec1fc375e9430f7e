"""Fuzzing accept(): any headers and body give a result, AuthError or BadRequest, nothing else,
and nothing is accepted without a valid signature."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scd_core.errors import AuthError, BadRequest
from scd_trigger_spec import Accepted, App, Ignored, Pong, accept
from tspec_helpers import SECRET, dumps, github_headers, github_pr, github_push

SIGNED = App.model_validate({"name": "web", "repo": "r", "secret": SECRET})
OPEN = App.model_validate(
    {
        "name": "web",
        "repo": "r",
        "insecure_no_secret": True,
        "trigger": {"push": {"paths": ["src/**"]}, "pull_request": {}},
    }
)

HEADER_NAMES = st.sampled_from(
    [
        "X-GitHub-Event",
        "x-github-event",
        "X-Hub-Signature-256",
        "X-Hub-Signature",
        "X-Gitee-Event",
        "X-Gitee-Token",
        "X-Gitee-Timestamp",
        "X-Gitlab-Event",
        "X-Gitlab-Token",
        "X-Codeup-Event",
        "X-Codeup-Token",
        "Content-Type",
        "X-GitHub-Delivery",
        "X-Gitlab-Event-UUID",
    ]
) | st.text(max_size=20)
HEADER_VALUES = st.sampled_from(
    [
        "push",
        "pull_request",
        "ping",
        "Push Hook",
        "Tag Push Hook",
        "Merge Request Hook",
        "System Hook",
        "application/x-www-form-urlencoded",
        "application/json",
        SECRET,
        "1700000000000",
        "sha256=00",
        "",
    ]
) | st.text(max_size=40)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "ref",
        "after",
        "before",
        "deleted",
        "commits",
        "head_commit",
        "action",
        "number",
        "pull_request",
        "object_attributes",
        "object_kind",
        "repository",
        "project",
        "user",
        "payload",
        "source_branch",
        "target_branch",
    ]
)
PAYLOADS = st.dictionaries(KEYS, JSON, max_size=8)
BODIES = st.binary(max_size=200) | PAYLOADS.map(dumps)
RESULTS = (Accepted, Ignored, Pong)
FUZZ = settings(
    max_examples=int(os.environ.get("SCD_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _outcome(app: App, headers: dict[str, str], body: bytes) -> Any:
    try:
        return accept(app, headers, body, now=1_700_000_000.0)
    except (AuthError, BadRequest) as exc:
        return exc


@FUZZ
@given(st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=6), BODIES)
def test_random_deliveries_never_escape_the_contract_nor_pass_without_signature(
    headers: dict[str, str], body: bytes
) -> None:
    outcome = _outcome(SIGNED, headers, body)
    assert isinstance(outcome, (*RESULTS, AuthError, BadRequest))
    if isinstance(outcome, Accepted):
        # only a GitLab/Codeup/Gitee token equal to the secret can get here unsigned
        assert SECRET in headers.values()


@FUZZ
@given(
    st.sampled_from(["push", "pull_request", "Push Hook", "Merge Request Hook", "System Hook"]),
    st.sampled_from(["X-GitHub-Event", "X-Gitee-Event", "X-Gitlab-Event", "X-Codeup-Event"]),
    PAYLOADS,
)
def test_random_payloads_of_trigger_events_give_results_or_bad_request(
    event: str, header: str, payload: dict[str, Any]
) -> None:
    outcome = _outcome(OPEN, {header: event}, json.dumps(payload).encode())
    assert isinstance(outcome, (*RESULTS, BadRequest))


@FUZZ
@given(st.integers(min_value=0, max_value=5000), st.binary(min_size=1, max_size=1))
def test_any_changed_byte_breaks_a_valid_signature(position: int, replacement: bytes) -> None:
    body = dumps(github_push())
    headers = github_headers(body, "push")
    index = position % len(body)
    tampered = body[:index] + replacement + body[index + 1 :]
    outcome = _outcome(SIGNED, headers, tampered)
    if tampered == body:
        assert isinstance(outcome, Accepted)
    else:
        assert isinstance(outcome, AuthError)


def _gitlab_like() -> dict[str, Any]:
    return {
        "object_kind": "merge_request",
        "ref": "refs/heads/main",
        "after": "a" * 40,
        "commits": [{"id": "a" * 40, "message": "m", "added": ["x"]}],
        "object_attributes": {
            "action": "update",
            "iid": 3,
            "source_branch": "f",
            "target_branch": "main",
            "last_commit": {"id": "b" * 40},
        },
        "project": {"path_with_namespace": "g/p", "git_http_url": "https://h/g/p.git"},
        "user": {"username": "u"},
    }


BASES = {
    "X-GitHub-Event": {"push": github_push(), "pull_request": github_pr()},
    "X-Gitlab-Event": {"Push Hook": _gitlab_like(), "Merge Request Hook": _gitlab_like()},
    "X-Codeup-Event": {"Push Hook": _gitlab_like(), "Merge Request Hook": _gitlab_like()},
    "X-Gitee-Event": {"Push Hook": github_push(), "Merge Request Hook": github_pr()},
}
PATHS = st.sampled_from(
    [
        "ref",
        "after",
        "deleted",
        "created",
        "commits",
        "head_commit",
        "head_commit.message",
        "pusher",
        "repository",
        "repository.owner",
        "repository.full_name",
        "number",
        "action",
        "pull_request",
        "pull_request.head",
        "pull_request.head.ref",
        "pull_request.merged",
        "pull_request.number",
        "object_attributes",
        "object_attributes.iid",
        "object_attributes.action",
        "object_attributes.last_commit",
        "project",
        "user",
        "total_commits_count",
        "commits_more_than_ten",
        "source_branch",
    ]
)


def _set_path(payload: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = payload
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[last] = value


@FUZZ
@given(st.sampled_from(sorted(BASES)), st.data(), st.lists(st.tuples(PATHS, JSON), max_size=3))
def test_mutated_valid_payloads_give_results_or_bad_request(
    header: str, data: st.DataObject, mutations: list[tuple[str, Any]]
) -> None:
    event = data.draw(st.sampled_from(sorted(BASES[header])))
    payload = json.loads(json.dumps(BASES[header][event]))
    for path, value in mutations:
        _set_path(payload, path, value)
    outcome = _outcome(OPEN, {header: event}, json.dumps(payload).encode())
    assert isinstance(outcome, (*RESULTS, BadRequest))
