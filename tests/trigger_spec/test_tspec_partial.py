"""GitHub pushes and pull requests decoded to the fields read decide exactly as whole payloads.

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
from scd_trigger_spec.providers import GitHub
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
        patch.setattr(GitHub, "decoders", MappingProxyType({}))
        yield


def _answer(app: App, event: str, body: bytes, content_type: str) -> tuple[Any, ...]:
    headers = {**github_headers(body, event), "Content-Type": content_type}
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
    """The answer with the provider's decoders, checked equal to the one without."""
    fields = _answer(app, event, body, content_type)
    with _whole_payloads():
        whole = _answer(app, event, body, content_type)
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


def test_an_accepted_push_keeps_the_body_text_as_its_payload() -> None:
    body = json.dumps(github_push(), indent=1).encode()
    answer = _both("push", body)
    assert _payload_text(answer) == body.decode()
    assert answer[1].payload == json.loads(body)
    with _whole_payloads():
        assert _payload_text(_answer(EVERYTHING, "push", body, "application/json")) is None


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
    if answer[0] == "accepted":
        assert _payload_text(answer) is None or "NaN" not in body.decode("utf-8", "replace")


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
