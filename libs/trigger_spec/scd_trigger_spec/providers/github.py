"""GitHub webhooks: ``X-GitHub-Event``, ``X-GitHub-Delivery``, ``X-Hub-Signature-256``.

The signature is ``sha256=`` + hex HMAC-SHA256 of the raw body under the app's secret; the
legacy SHA-1 ``X-Hub-Signature`` counts only for apps with ``allow_sha1``, and only when no
SHA-256 signature is sent. ``ping`` answers ``Pong``. A closed pull request that was merged has
the action ``merged`` (serverless-cd's meaning), a closed one that was not, ``closed``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from types import MappingProxyType
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
from scd_trigger_spec.providers.people import PUSHER_SHAPE, sd_pusher
from scd_trigger_spec.providers.shapes import PartialDecoder, Shape
from scd_trigger_spec.results import Ignored, Pong
from scd_trigger_spec.spec import App

__all__ = ["GitHub"]

# GitHub's webhook push payload lists at most 2048 commits
_MAX_COMMITS = 2048

# every field read below (and by hub_push): a test checks the partial decode against the whole
_REPOSITORY: Shape = {"clone_url": None, "full_name": None, "owner": {"login": None, "name": None}}
_PUSH = PartialDecoder(
    {
        "ref": None,
        "after": None,
        "before": None,
        "deleted": None,
        "created": None,
        "commits": [{"added": None, "modified": None, "removed": None}],
        "head_commit": {"id": None, "message": None},
        **PUSHER_SHAPE,
        "repository": _REPOSITORY,
    }
)
_PULL_REQUEST = PartialDecoder(
    {
        "action": None,
        "number": None,
        "before": None,
        **PUSHER_SHAPE,
        "repository": _REPOSITORY,
        "pull_request": {
            "number": None,
            "head": {"ref": None, "sha": None, "repo": {"full_name": None}},
            "base": {"ref": None, "repo": {"full_name": None}},
            "merged": None,
            "merge_commit_sha": None,
            "title": None,
            "draft": None,
        },
    }
)


class GitHub(HeaderDetected):
    """The GitHub provider (stateless)."""

    name = "github"
    event_header = "x-github-event"
    decoders: Mapping[str, PartialDecoder] = MappingProxyType(
        {"push": _PUSH, "pull_request": _PULL_REQUEST}
    )

    def verify(self, app: App, headers: Mapping[str, str], body: bytes, now: float) -> None:
        secret = secret_bytes(app)
        received = headers.get("x-hub-signature-256")
        if received is not None:
            # hmac.digest: OpenSSL's one-shot HMAC, without a Python HMAC object per request
            expected = "sha256=" + hmac.digest(secret, body, "sha256").hex()
            if not equal_secret(expected, received.strip().lower()):
                raise AuthError("X-Hub-Signature-256 does not match the body")
            return
        legacy = headers.get("x-hub-signature")
        if app.allow_sha1 and legacy is not None:
            expected = "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()
            if not equal_secret(expected, legacy.strip().lower()):
                raise AuthError("X-Hub-Signature does not match the body")
            return
        if legacy is not None:
            raise AuthError(
                f"app '{app.name}' accepts only X-Hub-Signature-256 (SHA-1 needs allow_sha1)"
            )
        raise AuthError("missing X-Hub-Signature-256 header")

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        return headers.get("x-github-delivery") or body_digest(body)

    def parse(
        self, event: str, payload: dict[str, Any], headers: Mapping[str, str], delivery: str
    ) -> Parsed | Ignored | Pong:
        if event == "ping":
            return Pong(self.name, delivery)
        if event == "push":
            return hub_push(payload, delivery, "github", "sender.login", _repository, _complete)
        if event == "pull_request":
            return _pull_request(payload, delivery)
        return not_a_trigger(event)


def _repository(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "clone_url": get_str(payload, "repository.clone_url"),
        "repository": get_str(payload, "repository.full_name"),
        "repo_owner": get_str(payload, "repository.owner.login")
        or get_str(payload, "repository.owner.name"),
    }


def _complete(payload: dict[str, Any], commits: list[Any]) -> bool:
    return 0 < len(commits) < _MAX_COMMITS


def _pull_request(payload: dict[str, Any], delivery: str) -> Parsed:
    raw_action = need_str(payload, "action")
    number = get_int(payload, "number") or need_int(payload, "pull_request.number")
    source = need_str(payload, "pull_request.head.ref")
    target = need_str(payload, "pull_request.base.ref")
    merged = bool(get_bool(payload, "pull_request.merged"))
    action = ("merged" if merged else "closed") if raw_action == "closed" else raw_action
    ref, branch, commit = hub_pr_head(payload, action, number, source, target)
    event = make_event(
        provider="github",
        event_name="pull_request",
        action=action,
        ref=ref,
        branch=branch,
        commit=commit,
        before=get_str(payload, "before"),
        message=get_str(payload, "pull_request.title"),
        pusher=get_str(payload, "sender.login"),
        **sd_pusher(payload, "github", pull_request=True),
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
