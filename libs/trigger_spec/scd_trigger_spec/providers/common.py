"""Pieces every provider shares: constant-time secret checks, building an ``Event``, the
event-header detection, and the reading of GitHub-shaped pushes and pull requests (GitHub
and Gitee send the same shapes; each provider passes only the fields where they differ)."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError
from scd_core.errors import AuthError, BadRequest
from scd_core.models import Event

from scd_trigger_spec.providers.base import Parsed
from scd_trigger_spec.providers.fields import (
    ZERO_SHA,
    changed_files,
    get_bool,
    get_dict,
    get_list,
    get_str,
    need_sha,
    need_str,
    split_ref,
)
from scd_trigger_spec.providers.people import sd_pusher
from scd_trigger_spec.providers.shapes import PartialDecoder
from scd_trigger_spec.results import Ignored
from scd_trigger_spec.spec import App

__all__ = [
    "HeaderDetected",
    "equal_secret",
    "hub_pr_fork",
    "hub_pr_head",
    "hub_push",
    "make_event",
    "secret_bytes",
    "token_check",
]


class HeaderDetected:
    """Base of the providers recognised by their event header alone."""

    name: str
    event_header: str  # lower-case
    keeps_payload = True
    decoders: Mapping[str, PartialDecoder] = MappingProxyType({})

    def detect(self, headers: Mapping[str, str]) -> bool:
        """Whether these (lower-case) headers carry this provider's event header."""
        return self.event_header in headers


def secret_bytes(app: App) -> bytes:
    """The app's secret as UTF-8 bytes (``accept`` never calls providers without one)."""
    if app.secret is None:  # pragma: no cover - accept skips verification then
        raise AuthError(f"app '{app.name}' has no secret to verify with")
    return app.secret.get_secret_value().encode("utf-8")


def equal_secret(expected: str | bytes, received: str) -> bool:
    """Constant-time comparison that accepts any received text (even non-ASCII)."""
    want = expected if isinstance(expected, bytes) else expected.encode("utf-8")
    return hmac.compare_digest(want, received.encode("utf-8", "surrogatepass"))


def token_check(app: App, header: str, received: str | None) -> None:
    """GitLab/Codeup style: the header carries the secret itself."""
    if received is None:
        raise AuthError(f"missing {header} header")
    if not equal_secret(secret_bytes(app), received):
        raise AuthError(f"{header} does not match the app's secret")


def make_event(**fields: Any) -> Event:
    """An ``Event`` from normalised fields; a type slip in a payload becomes ``BadRequest``."""
    try:
        return Event(**fields)
    except ValidationError as exc:
        count = exc.error_count()
        raise BadRequest(f"payload has unexpected field types ({count} field(s))") from exc


def hub_push(
    payload: dict[str, Any],
    delivery: str,
    provider: str,
    pusher_fallback: str,
    repository: Callable[[dict[str, Any]], dict[str, Any]],
    complete: Callable[[dict[str, Any], list[Any]], bool],
) -> Parsed | Ignored:
    """A GitHub-shaped push (or tag push) parsed; ``Ignored`` for a ref that is neither a
    branch nor a tag. ``pusher`` is ``pusher.name``, else ``pusher_fallback``; ``repository``
    gives the provider's repository fields and ``complete(payload, commits)`` whether the
    changed-file lists are whole. Fields are read in the same order for every provider, so a
    payload wrong in two places always names the same one.
    """
    ref = need_str(payload, "ref")
    branch, tag = split_ref(ref)
    if branch is None and tag is None:
        return Ignored(f"ref '{ref}' is neither a branch nor a tag")
    after = need_sha(payload, "after")  # a push names its commit
    deleted = bool(get_bool(payload, "deleted")) or after == ZERO_SHA
    commits = get_list(payload, "commits")
    added, modified, removed = changed_files(commits)
    head = get_dict(payload, "head_commit") or {}
    action = "deleted" if deleted else ("created" if get_bool(payload, "created") else None)
    event = make_event(
        provider=provider,
        event_name="tag" if tag is not None else "push",
        action=action,
        ref=ref,
        branch=branch,
        tag=tag,
        commit=None if deleted else (after or get_str(head, "id")),
        before=get_str(payload, "before"),
        message=get_str(head, "message"),
        pusher=get_str(payload, "pusher.name") or get_str(payload, pusher_fallback),
        **sd_pusher(payload, provider, pull_request=False),
        added=added,
        modified=modified,
        removed=removed,
        delivery_id=delivery,
        payload=payload,
        **repository(payload),
    )
    return Parsed(event, files_complete=complete(payload, commits))


def hub_pr_fork(payload: dict[str, Any]) -> bool:
    """Whether a GitHub-shaped pull request's head lives in another repository than its
    base (a fork). A head repository that is gone (a deleted fork) or unnamed cannot be
    vouched for, so it counts as a fork."""
    head = get_str(payload, "pull_request.head.repo.full_name")
    base = get_str(payload, "pull_request.base.repo.full_name") or get_str(
        payload, "repository.full_name"
    )
    return head is None or base is None or head.lower() != base.lower()


def hub_pr_head(
    payload: dict[str, Any], action: str, number: int, source: str, target: str
) -> tuple[str, str, str | None]:
    """``(ref, branch, commit)`` of a GitHub-shaped pull request: a merged one is its target
    branch at the merge commit, any other its pull ref at the head commit."""
    if action == "merged":
        return f"refs/heads/{target}", target, get_str(payload, "pull_request.merge_commit_sha")
    return f"refs/pull/{number}/head", source, get_str(payload, "pull_request.head.sha")
