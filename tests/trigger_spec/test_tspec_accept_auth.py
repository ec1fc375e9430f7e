"""accept(): signatures and tokens on the raw bytes, decoding, and header handling."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from factories import make_app
from scd_core.errors import AuthError, BadRequest
from scd_core.models import Run
from scd_core.stores.rows import dump_model
from scd_trigger_spec import Accepted, Pong, accept
from scd_trigger_spec.providers import PROVIDERS
from tspec_helpers import SECRET, corpus_dir, dumps, gitee_signature, github_headers, github_push

NOW = 1_700_000_000.0


def test_documented_github_vector_verifies_and_one_changed_byte_fails() -> None:
    vector = json.loads((corpus_dir("signatures") / "github.json").read_text())
    app = make_app(secret=vector["secret"], provider="github")
    body = vector["payload"].encode()
    headers = {"x-hub-signature-256": vector["signature_256"]}
    PROVIDERS["github"].verify(app, headers, body, NOW)
    with pytest.raises(AuthError):
        PROVIDERS["github"].verify(app, headers, body[:-1] + b"?", NOW)


def test_signed_github_push_is_accepted_with_delivery_dedup_key() -> None:
    body = dumps(github_push())
    result = accept(make_app(), github_headers(body, "push", delivery="abc"), body)
    assert isinstance(result, Accepted)
    assert result.dedup_key == "web:github:abc"
    assert result.event.delivery_id == "abc"


def test_bad_signature_is_refused_without_echoing_secret_or_signature() -> None:
    body = dumps(github_push())
    headers = github_headers(body, "push", secret="wrong-secret")
    with pytest.raises(AuthError) as info:
        accept(make_app(), headers, body)
    message = str(info.value)
    assert SECRET not in message
    assert headers["X-Hub-Signature-256"].split("=", 1)[1] not in message


def test_missing_signature_is_refused() -> None:
    body = dumps(github_push())
    headers = github_headers(body, "push")
    del headers["X-Hub-Signature-256"]
    with pytest.raises(AuthError, match="missing X-Hub-Signature-256"):
        accept(make_app(), headers, body)


def test_signature_covers_raw_bytes_not_reserialized_json() -> None:
    body = dumps(github_push())
    headers = github_headers(body, "push")
    respaced = json.dumps(json.loads(body), indent=1).encode()
    with pytest.raises(AuthError):
        accept(make_app(), headers, respaced)


def _sha1_headers(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return {"X-GitHub-Event": "push", "X-Hub-Signature": f"sha1={digest}"}


def test_sha1_signature_is_refused_unless_the_app_opts_in() -> None:
    body = dumps(github_push())
    with pytest.raises(AuthError, match="allow_sha1"):
        accept(make_app(), _sha1_headers(body), body)
    assert isinstance(accept(make_app(allow_sha1=True), _sha1_headers(body), body), Accepted)
    with pytest.raises(AuthError):
        accept(make_app(allow_sha1=True), _sha1_headers(body, "nope"), body)


def test_wrong_sha256_is_not_rescued_by_a_right_sha1() -> None:
    body = dumps(github_push())
    headers = {**_sha1_headers(body), "X-Hub-Signature-256": "sha256=" + "0" * 64}
    with pytest.raises(AuthError):
        accept(make_app(allow_sha1=True), headers, body)


@pytest.mark.parametrize("transform", [str.lower, str.upper])
def test_header_names_are_case_insensitive(transform: Any) -> None:
    body = dumps(github_push())
    headers = {transform(k): v for k, v in github_headers(body, "push").items()}
    assert isinstance(accept(make_app(), headers, body), Accepted)


def test_form_encoded_github_body_is_verified_raw_and_its_payload_parsed() -> None:
    body = urlencode({"payload": json.dumps(github_push())}).encode()
    headers = github_headers(body, "push")
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    result = accept(make_app(), headers, body)
    assert isinstance(result, Accepted)
    assert result.event.branch == "main"


def test_form_encoded_body_without_payload_field_is_bad_request() -> None:
    body = b"other=1"
    headers = github_headers(body, "push")
    headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    with pytest.raises(BadRequest, match="payload"):
        accept(make_app(), headers, body)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"\xff\xfe\x00", "JSON"),
        (b"[" * 100_000, "not valid JSON"),
        (b'{"after": "x"}', "missing 'ref'"),
        (b'{"ref": 5}', "must be str"),
    ],
)
def test_malformed_body_is_bad_request_after_authentication(body: bytes, fragment: str) -> None:
    with pytest.raises(BadRequest, match=fragment):
        accept(make_app(), github_headers(body, "push"), body)


def test_pinned_provider_without_event_header_is_bad_request_after_auth() -> None:
    body = dumps(github_push())
    headers = github_headers(body, "push")
    del headers["X-GitHub-Event"]
    with pytest.raises(BadRequest, match="missing X-GitHub-Event"):
        accept(make_app(provider="github"), headers, body)
    with pytest.raises(AuthError):
        accept(make_app(provider="github"), {}, body)


def test_unknown_provider_is_bad_request() -> None:
    with pytest.raises(BadRequest, match="cannot tell the git provider"):
        accept(make_app(), {"User-Agent": "curl"}, b"{}")


def test_insecure_app_skips_verification() -> None:
    body = dumps(github_push())
    app = make_app(secret=None, insecure_no_secret=True)
    assert isinstance(accept(app, {"X-GitHub-Event": "push"}, body), Accepted)


def test_github_ping_answers_pong() -> None:
    body = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    result = accept(make_app(), github_headers(body, "ping", delivery="p-1"), body)
    assert result == Pong("github", "p-1")


def _gitee_push() -> bytes:
    payload = json.loads((corpus_dir("webhooks", "gitee") / "push.json").read_bytes())
    payload["password"] = SECRET  # Gitee repeats the plain password in password mode
    return dumps(payload)


def _gitee_headers(token: str, stamp: int | None = None) -> dict[str, str]:
    headers = {
        "X-Gitee-Event": "Push Hook",
        "X-Gitee-Token": token,
        "User-Agent": "git-oschina-hook",
    }
    if stamp is not None:
        headers["X-Gitee-Timestamp"] = str(stamp)
    return headers


def test_gitee_plain_password_is_accepted_and_scrubbed_from_the_payload() -> None:
    result = accept(make_app(), _gitee_headers(SECRET), _gitee_push(), now=NOW)
    assert isinstance(result, Accepted)
    assert "password" not in result.event.payload
    assert "sign" not in result.event.payload
    assert SECRET not in result.event.model_dump_json()
    assert result.event.delivered_json is None  # the body holds the password: never stored as-is
    run = Run(id="r", app="web", dedup_key=result.dedup_key, event=result.event)
    assert SECRET not in dump_model(run)


def test_an_accepted_github_body_is_kept_as_the_payloads_text() -> None:
    body = dumps(github_push())
    result = accept(make_app(), github_headers(body, "push", delivery="d-text"), body)
    assert isinstance(result, Accepted)
    delivered = result.event.delivered_json
    assert delivered is not None
    assert delivered.endswith(',"payload":' + body.decode() + "}")
    assert json.loads(delivered)["payload"] == result.event.payload


def test_gitee_signature_within_the_window_is_accepted() -> None:
    stamp = int(NOW * 1000) - 60_000
    headers = _gitee_headers(gitee_signature(stamp), stamp)
    assert isinstance(accept(make_app(), headers, _gitee_push(), now=NOW), Accepted)


@pytest.mark.parametrize("offset_s", [-3601, 3601])
def test_gitee_signature_outside_the_window_is_refused_either_way(offset_s: int) -> None:
    stamp = int((NOW + offset_s) * 1000)
    headers = _gitee_headers(gitee_signature(stamp), stamp)
    with pytest.raises(AuthError, match="outside the 3600 s window"):
        accept(make_app(), headers, _gitee_push(), now=NOW)


def test_gitee_window_is_configurable() -> None:
    stamp = int((NOW - 120) * 1000)
    headers = _gitee_headers(gitee_signature(stamp), stamp)
    with pytest.raises(AuthError):
        accept(make_app(gitee_timestamp_window_s=60), headers, _gitee_push(), now=NOW)


def test_gitee_wrong_token_is_refused() -> None:
    stamp = int(NOW * 1000)
    with pytest.raises(AuthError):
        accept(
            make_app(),
            _gitee_headers(gitee_signature(stamp, "other"), stamp),
            _gitee_push(),
            now=NOW,
        )
    with pytest.raises(AuthError):
        accept(make_app(), _gitee_headers("guess"), _gitee_push(), now=NOW)


def test_gitlab_token_is_compared_and_event_uuid_is_the_delivery() -> None:
    body = (corpus_dir("webhooks", "gitlab") / "push.json").read_bytes()
    headers = {
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Token": SECRET,
        "X-Gitlab-Event-UUID": "u-1",
    }
    result = accept(make_app(), headers, body)
    assert isinstance(result, Accepted)
    assert result.dedup_key == "web:gitlab:u-1"
    with pytest.raises(AuthError, match="X-Gitlab-Token"):
        accept(make_app(), {**headers, "X-Gitlab-Token": "nope"}, body)
    with pytest.raises(AuthError, match="missing X-Gitlab-Token"):
        accept(make_app(), {"X-Gitlab-Event": "Push Hook"}, body)


def test_delivery_without_id_is_keyed_by_body_digest() -> None:
    body = (corpus_dir("webhooks", "gitlab") / "push.json").read_bytes()
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET}
    result = accept(make_app(), headers, body)
    assert isinstance(result, Accepted)
    assert result.dedup_key == f"web:gitlab:{hashlib.sha256(body).hexdigest()}"


def test_pinned_provider_ignores_other_providers_headers() -> None:
    body = (corpus_dir("webhooks", "gitlab") / "push.json").read_bytes()
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": SECRET}
    with pytest.raises(AuthError):
        accept(make_app(provider="github"), headers, body)
