"""Deliveries decoded to the fields read decide exactly as whole payloads do.

``accept`` decodes a strict JSON body into the fields the provider reads
(``GitProvider.decoders``) and keeps the body's text as the event's payload. Every
case here runs twice, with and without the provider's decoders, and the two must
answer alike: the same event (payload included), the same stored JSON, the same
reason to ignore, the same error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scd_core.errors import ScdError
from scd_core.payload import Payload
from scd_trigger_spec import Accepted, App, Ignored, accept
from scd_trigger_spec.payloads import may_hold_nan_or_infinity
from scd_trigger_spec.providers import GitHub, GitLab
from tspec_helpers import SECRET, corpus_dir, github_headers, github_push

EVERYTHING = App.model_validate(
    {
        "name": "web",
        "repo": "https://example.com/r.git",
        "secret": SECRET,
        "trigger": {
            "push": {"deletions": True},
            "pull_request": {"types": ["opened", "synchronize", "closed", "merged"]},
        },
    }
)
FILTERED = App.model_validate(
    {
        "name": "web",
        "repo": "https://example.com/r.git",
        "secret": SECRET,
        "trigger": {
            "push": {"branches": ["main"], "paths": ["src/**"]},
            "pull_request": {"branches": ["main"]},
        },
    }
)


@contextmanager
def _whole_payloads() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for provider in (GitHub, GitLab):  # Codeup's are GitLab's
            patch.setattr(provider, "decoders", MappingProxyType({}))
        yield


def _answer(app: App, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
    try:
        result = accept(app, headers, body)
    except ScdError as exc:
        return ("refused", type(exc).__name__, str(exc))
    if isinstance(result, Ignored):
        return ("ignored", result.reason)
    if isinstance(result, Accepted):
        event_value = result.event
        return ("accepted", event_value, event_value.delivered_json, result.dedup_key)
    return ("pong",)


def _both(
    event: str, body: bytes, app: App = EVERYTHING, content_type: str = "application/json"
) -> tuple[Any, ...]:
    """The answer to a GitHub delivery with the provider's decoders, checked equal to the
    one without."""
    headers = {**github_headers(body, event), "Content-Type": content_type}
    return _both_for(headers, body, app)


def _both_for(headers: dict[str, str], body: bytes, app: App = EVERYTHING) -> tuple[Any, ...]:
    fields = _answer(app, headers, body)
    with _whole_payloads():
        whole = _answer(app, headers, body)
    assert fields == whole
    return fields


def _payload_text(answer: tuple[Any, ...]) -> str | None:
    assert answer[0] == "accepted", answer
    payload = answer[1].payload
    assert isinstance(payload, Payload)
    return payload.text


@pytest.mark.parametrize(
    "name",
    [
        "push__payload.json",
        "push__with-new-branch.payload.json",
        "pull_request__opened.payload.json",
        "pull_request__closed.payload.json",
        "pull_request__synchronize.payload.json",
    ],
)
@pytest.mark.parametrize("app", [EVERYTHING, FILTERED], ids=["everything", "filtered"])
def test_corpus_deliveries_are_answered_alike_from_their_fields(name: str, app: App) -> None:
    body = (corpus_dir("webhooks", "github") / name).read_bytes()
    _both(name.split("__")[0], body, app)


def _gitlab_headers(event: str, provider: str = "Gitlab") -> dict[str, str]:
    return {
        f"X-{provider}-Event": event,
        f"X-{provider}-Token": SECRET,
        "Content-Type": "application/json",
    }


@pytest.mark.parametrize("app", [EVERYTHING, FILTERED], ids=["everything", "filtered"])
def test_gitlab_corpus_deliveries_are_answered_alike_from_their_fields(app: App) -> None:
    folder = corpus_dir("webhooks", "gitlab")
    cases = json.loads((folder / "headers.json").read_text())
    read = 0
    for name, event_headers in sorted(cases.items()):
        headers = _gitlab_headers(event_headers["X-Gitlab-Event"])
        answer = _both_for(headers, (folder / name).read_bytes(), app)
        read += answer[0] == "accepted" and _payload_text(answer) is not None
    assert read > 0 or app is FILTERED  # the partial decode was used


def _gitlab_push(**changes: Any) -> dict[str, Any]:
    after = "4fe524d23668336a778eb02ef79aee7f362a1940"
    commit = {"id": after, "message": "m", "added": ["src/a.py"], "modified": [], "removed": []}
    payload: dict[str, Any] = {
        "object_kind": "push",
        "ref": "refs/heads/main",
        "before": "c" * 40,
        "after": after,
        "checkout_sha": after,
        "user_username": "dankun",
        "user_name": "Dan Kun",
        "total_commits_count": 1,
        "commits": [commit],
        "project": {"path_with_namespace": "acme/web", "git_http_url": "https://gl/acme/web.git"},
        "repository": {
            "git_http_url": "https://codeup.aliyun.com/60b0/mamba/fc-node12.git",
            "homepage": "https://codeup.aliyun.com/60b0/mamba/fc-node12",
        },
    }
    payload.update(changes)
    return payload


def _gitlab_merge_request(**attributes: Any) -> dict[str, Any]:
    target = {"web_url": "https://codeup.aliyun.com/60b0/web", "http_url": "https://c/web.git"}
    merge_request = {
        "action": "update",
        "state": "opened",
        "iid": 3,
        "source_branch": "feature",
        "target_branch": "main",
        "oldrev": "d" * 40,
        "last_commit": {"id": "e" * 40},
        "title": "t",
        "is_update_by_push": True,
        "target": target,
        **attributes,
    }
    user = {"username": "kun", "name": "Kun"}
    return {
        **_gitlab_push(),
        "object_kind": "merge_request",
        "object_attributes": merge_request,
        "user": user,
    }


@pytest.mark.parametrize("provider", ["Gitlab", "Codeup"])
@pytest.mark.parametrize("app", [EVERYTHING, FILTERED], ids=["everything", "filtered"])
def test_gitlab_and_codeup_deliveries_are_answered_alike_from_their_fields(
    provider: str, app: App
) -> None:
    cases = [
        ("Push Hook", _gitlab_push()),
        ("Tag Push Hook", _gitlab_push(ref="refs/tags/v1")),
        ("Push Hook", _gitlab_push(after="0" * 40)),
        ("Push Hook", _gitlab_push(commits=[], total_commits_count=0)),
        ("Merge Request Hook", _gitlab_merge_request()),
        ("Merge Request Hook", _gitlab_merge_request(action="merge", state="merged")),
        ("Merge Request Hook", _gitlab_merge_request(oldrev=None, is_update_by_push=False)),
        ("Merge Request Hook", _gitlab_merge_request(draft=True, merge_commit_sha="f" * 40)),
        ("Merge Request Hook", _gitlab_merge_request(action="merge", merge_commit_sha="f" * 40)),
        ("Merge Request Hook", _gitlab_merge_request(work_in_progress=True, action=None)),
        ("Push Hook", _gitlab_push(user_username=None, repository={})),
        ("Push Hook", _gitlab_push(checkout_sha="9" * 40)),
        ("Push Hook", _gitlab_push(total_commits_count=30, commits=[{"added": ["docs/a.md"]}])),
        (
            "Merge Request Hook",
            {**_gitlab_merge_request(), "user": {"name": "K"}, "repository": {}},
        ),
    ]
    read = 0
    for event, payload in cases:
        answer = _both_for(_gitlab_headers(event, provider), json.dumps(payload).encode(), app)
        read += answer[0] == "accepted" and _payload_text(answer) is not None
    assert read > 0  # the partial decode was used


def test_an_accepted_push_keeps_the_body_text_as_its_payload() -> None:
    body = json.dumps(github_push(), indent=1).encode()
    answer = _both("push", body)
    assert _payload_text(answer) == body.decode()
    assert answer[1].payload == json.loads(body)
    with _whole_payloads():
        assert _payload_text(_answer(EVERYTHING, github_headers(body, "push"), body)) is None


def test_the_last_of_duplicate_keys_decides_as_in_the_whole_payload() -> None:
    push = json.dumps(github_push("refs/heads/main"))
    body = ('{"ref": "refs/heads/dev", ' + push[1:]).encode()  # "ref" twice: main is last
    answer = _both("push", body, FILTERED)
    assert answer[1].branch == "main"


@pytest.mark.parametrize(
    "body",
    [
        b'{"ref": NaN, "after": "a"}',
        b'{"ref": "refs/heads/main", "after": -Infinity}',
        b'\xef\xbb\xbf{"ref": "refs/heads/main"}',
        b'{"ref": "refs/heads/main", "x": "\\ud800"}',
        b'{"ref": "refs/heads/\\ud800"}',
        b'{"ref": "refs/heads/main", "x": "\xff"}',
        b'{"ref": "refs/heads/main"} trailing',
        b'["not", "an", "object"]',
        b'{"ref": "refs/heads/main", "deep": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    ],
)
def test_bodies_the_partial_decode_refuses_are_decoded_whole(body: bytes) -> None:
    answer = _both("push", body)
    if answer[0] == "accepted":  # none of these bodies is strict JSON the parser takes
        assert _payload_text(answer) is None


def test_form_encoded_deliveries_are_decoded_whole() -> None:
    from urllib.parse import urlencode

    body = urlencode({"payload": json.dumps(github_push())}).encode()
    answer = _both("push", body, content_type="application/x-www-form-urlencoded")
    assert answer[0] == "accepted"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
_READ_PATHS = [
    ("ref",),
    ("after",),
    ("deleted",),
    ("created",),
    ("commits",),
    ("head_commit",),
    ("head_commit", "message"),
    ("pusher",),
    ("pusher", "name"),
    ("repository",),
    ("repository", "owner"),
    ("repository", "owner", "login"),
    ("repository", "owner", "name"),
    ("commits", 0),
    ("commits", 0, "added"),
]


def _put(payload: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    """Set ``value`` at ``path`` when every step of it is there (earlier changes may not be)."""
    target: Any = payload
    for key in path[:-1]:
        target = _child(target, key)
    if _child(target, path[-1], missing=_ABSENT) is not _ABSENT:
        target[path[-1]] = value


_ABSENT = object()


def _child(node: Any, key: Any, missing: Any = None) -> Any:
    if isinstance(node, dict) and isinstance(key, str):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and key < len(node):
        return node[key]
    return missing


@settings(max_examples=300, deadline=None)
@given(
    changes=st.lists(st.tuples(st.sampled_from(_READ_PATHS), _JSON), max_size=3),
    extra=st.dictionaries(st.text(max_size=6), _JSON, max_size=3),
    event=st.sampled_from(["push", "pull_request"]),
)
def test_any_payload_is_answered_alike_from_its_fields(
    changes: list[tuple[tuple[Any, ...], Any]], extra: dict[str, Any], event: str
) -> None:
    payload = {**github_push(), **extra}
    payload["repository"]["owner"]["name"] = "Acme"  # read when there is no login
    if event == "pull_request":
        head = {"ref": "feature", "sha": "c" * 40}
        pull = {"number": 7, "head": head, "base": {"ref": "main"}, "title": "t", "merged": False}
        payload.update(action="opened", number=7, pull_request=pull)
    for path, value in changes:
        _put(payload, path, value)
    _both(event, json.dumps(payload).encode())
    _both(event, json.dumps(payload).encode(), FILTERED)


@pytest.mark.parametrize(
    ("body", "may_hold"),
    [
        (b'{"a": NaN}', True),
        (b'{"a": [1, -Infinity]}', True),
        (b'{"NaNa": "Infinity"}', True),  # inside strings too: then the body is decoded whole
        (b'{"Nope": "Infinite Ideas"}', False),
        (b'{"a": "' + b"I" * 65 + b'"}', True),  # many near misses: stop looking, decode whole
        (b"{}", False),
    ],
)
def test_the_look_for_non_standard_tokens_never_misses_one(body: bytes, may_hold: bool) -> None:
    assert may_hold_nan_or_infinity(body) is may_hold
