"""Fuzzing POST /webhooks/{app}: never a 500, never a run without a valid signature."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scd_core.invokers.memory import MemoryInvoker
from scd_core.settings import Settings
from scd_core.stores import open_store

from functions.appconfig import parse_config
from functions.trigger.app import create_app
from functions.trigger.testing import asgi_client, github_push, github_signature

SECRET = "fuzz-secret-0123456789"
CONFIG = f"""
apps:
  - {{name: pinned, repo: 'https://github.com/acme/web.git', provider: github, secret: {SECRET}}}
  - {{name: detect, repo: 'https://github.com/acme/web.git', secret: {SECRET}}}
"""
ALLOWED = {200, 202, 400, 401, 404, 413, 415}

HEADER_NAMES = [
    "X-GitHub-Event",
    "X-GitHub-Delivery",
    "X-Hub-Signature-256",
    "X-Hub-Signature",
    "X-Gitee-Event",
    "X-Gitee-Token",
    "X-Gitee-Timestamp",
    "X-Gitlab-Event",
    "X-Gitlab-Token",
    "X-Codeup-Event",
    "X-Codeup-Token",
    "User-Agent",
]
header_value = st.one_of(
    st.sampled_from(["push", "ping", "Push Hook", "pull_request", "sha256=", "sha1=", "", "0"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80),
)
headers = st.dictionaries(st.sampled_from(HEADER_NAMES), header_value, max_size=6)
content_type = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "",
        "application/json; charset=utf-8",
    ]
)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.binary(max_size=512),
    json_like.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([github_push(), github_push("refs/heads/dev"), b"payload=%7B%7D", b"{}"]),
)


def test_random_deliveries_never_fail_and_never_start_unsigned_runs() -> None:
    store = open_store("memory://")
    invoker = MemoryInvoker()
    config = parse_config(CONFIG, "scd.yaml", {})
    api = create_app(Settings(max_body_bytes=4096), config=config, store=store, invoker=invoker)
    signed_runs = 0

    with asgi_client(api, raise_server_exceptions=True) as client:

        @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            app=st.sampled_from(["pinned", "detect", "missing"]),
            sent=headers,
            kind=content_type,
            body=bodies,
            sign=st.booleans(),
        )
        def check(app: str, sent: dict[str, str], kind: str, body: bytes, sign: bool) -> None:
            nonlocal signed_runs
            before = len(invoker.jobs)
            sent = dict(sent)
            if kind:
                sent["Content-Type"] = kind
            if sign:
                sent["X-Hub-Signature-256"] = github_signature(SECRET, body)
                sent.setdefault("X-GitHub-Event", "push")
            response = client.post(f"/webhooks/{app}", content=body, headers=sent)
            assert response.status_code in ALLOWED, response.text
            answer = response.json()
            assert SECRET not in response.text
            if response.status_code >= 400:
                assert set(answer) == {"error", "detail"}
            if response.status_code == 202:
                assert sign, "a run started without a valid signature"
                signed_runs += 1
            if not sign:
                assert len(invoker.jobs) == before

        check()
    assert len(invoker.jobs) == signed_runs
