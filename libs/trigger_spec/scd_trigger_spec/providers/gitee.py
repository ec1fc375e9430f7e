"""Gitee webhooks: ``X-Gitee-Event``, ``X-Gitee-Token``, ``X-Gitee-Timestamp``.

``X-Gitee-Token`` is either the plain password (compared in constant time) or, in signing-key
mode, base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")) with the millisecond
``X-Gitee-Timestamp``. That signature does not cover the body, so a timestamp further than
``app.gitee_timestamp_window_s`` from now, either way, is refused. Gitee payloads repeat the
``password`` and ``sign``; they are dropped from ``Event.payload``. Pull request actions:
open → opened, update that moved the source branch → synchronize (other updates: edited),
merge (or close of a merged one) → merged, close → closed, reopen → reopened.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from scd_core.errors import AuthError

from scd_trigger_spec.providers.base import Parsed, not_a_trigger
from scd_trigger_spec.providers.common import (
    HeaderDetected,
    equal_secret,
    hub_pr_fork,
    hub_pr_head,
    hub_push,
    make_event,
    secret_bytes,
)
from scd_trigger_spec.providers.fields import (
    body_digest,
    get_bool,
    get_int,
    get_str,
    need_int,
    need_str,
)
from scd_trigger_spec.providers.people import sd_pusher
from scd_trigger_spec.results import Ignored, Pong
from scd_trigger_spec.spec import App

__all__ = ["Gitee"]

_TIMESTAMP = re.compile(r"[0-9]{1,16}")
_PR_ACTIONS = {"open": "opened", "reopen": "reopened", "close": "closed", "merge": "merged"}
_SECRET_FIELDS = ("password", "sign")


class Gitee(HeaderDetected):
    """The Gitee provider (stateless)."""

    name = "gitee"
    event_header = "x-gitee-event"
    keeps_payload = False  # password and sign are dropped from the payload

    def verify(self, app: App, headers: Mapping[str, str], body: bytes, now: float) -> None:
        token = headers.get("x-gitee-token")
        if token is None:
            raise AuthError("missing X-Gitee-Token header")
        secret = secret_bytes(app)
        if equal_secret(secret, token):
            return
        stamp = headers.get("x-gitee-timestamp")
        if stamp is None or not _TIMESTAMP.fullmatch(stamp):
            raise AuthError("X-Gitee-Token does not match (no valid X-Gitee-Timestamp)")
        digest = hmac.new(secret, stamp.encode() + b"\n" + secret, hashlib.sha256).digest()
        if not equal_secret(base64.b64encode(digest), token):
            raise AuthError("X-Gitee-Token does not match the app's secret")
        window = app.gitee_timestamp_window_s
        if abs(now - int(stamp) / 1000) > window:
            raise AuthError(f"X-Gitee-Timestamp is outside the {window} s window")

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        delivery = headers.get("x-gitee-delivery")
        if delivery:
            return delivery
        stamp = headers.get("x-gitee-timestamp")
        digest = body_digest(body)
        return f"{stamp}-{digest[:32]}" if stamp else digest

    def parse(
        self, event: str, payload: dict[str, Any], headers: Mapping[str, str], delivery: str
    ) -> Parsed | Ignored | Pong:
        clean = {k: v for k, v in payload.items() if k not in _SECRET_FIELDS}
        if event in ("Push Hook", "Tag Push Hook"):
            return hub_push(clean, delivery, "gitee", "user_name", _repository, _complete)
        if event == "Merge Request Hook":
            return _pull_request(clean, delivery)
        return not_a_trigger(event)


def _repository(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "clone_url": get_str(payload, "repository.clone_url")
        or get_str(payload, "repository.git_http_url"),
        "repository": get_str(payload, "repository.full_name")
        or get_str(payload, "repository.path_with_namespace"),
        "repo_owner": get_str(payload, "repository.owner.login")
        or get_str(payload, "repository.namespace"),
    }


def _complete(payload: dict[str, Any], commits: list[Any]) -> bool:
    truncated = bool(get_bool(payload, "commits_more_than_ten"))
    return bool(commits) and not truncated


def _pull_request(payload: dict[str, Any], delivery: str) -> Parsed:
    raw = need_str(payload, "action")
    number = (
        get_int(payload, "number")
        or get_int(payload, "pull_request.number")
        or need_int(payload, "iid")
    )
    source = get_str(payload, "source_branch") or need_str(payload, "pull_request.head.ref")
    target = get_str(payload, "target_branch") or need_str(payload, "pull_request.base.ref")
    merged = bool(get_bool(payload, "pull_request.merged")) or raw == "merge"
    if raw == "update":
        source_moved = get_str(payload, "action_desc") == "source_branch_changed"
        action = "synchronize" if source_moved else "edited"
    elif raw == "close" and merged:
        action = "merged"
    else:
        action = _PR_ACTIONS.get(raw or "", raw or "")
    ref, branch, commit = hub_pr_head(payload, action, number, source, target)
    event = make_event(
        provider="gitee",
        event_name="pull_request",
        action=action,
        ref=ref,
        branch=branch,
        commit=commit,
        message=get_str(payload, "pull_request.title") or get_str(payload, "title"),
        pusher=get_str(payload, "sender.login") or get_str(payload, "author.login"),
        **sd_pusher(payload, "gitee", pull_request=True),
        pr_number=number,
        source_branch=source,
        target_branch=target,
        merged=merged,
        draft=get_bool(payload, "pull_request.draft"),
        fork=hub_pr_fork(payload),
        delivery_id=delivery,
        payload=payload,
        **_repository(payload),
    )
    return Parsed(event, files_complete=False)
