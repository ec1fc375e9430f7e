"""GitLab webhooks: ``X-Gitlab-Event``, ``X-Gitlab-Token``, ``X-Gitlab-Event-UUID``.

The token header carries the secret itself (compared in constant time). ``Push Hook`` and
``Tag Push Hook`` are pushes, ``Merge Request Hook`` a pull request (``System Hook`` deliveries
of the same payloads are read by ``object_kind``). Merge request actions map to scd's words:
open → opened, reopen → reopened, update with new commits (``oldrev``) → synchronize, other
updates → edited, close → closed, merge → merged. Codeup's payloads are GitLab-shaped; its
provider (``codeup``) reuses this code with its own header names.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from scd_trigger_spec.providers.base import Parsed, not_a_trigger
from scd_trigger_spec.providers.common import HeaderDetected, make_event, token_check
from scd_trigger_spec.providers.fields import (
    ZERO_SHA,
    body_digest,
    changed_files,
    get_bool,
    get_dict,
    get_int,
    get_list,
    get_str,
    need_int,
    need_sha,
    need_str,
    split_ref,
)
from scd_trigger_spec.providers.people import PUSHER_SHAPE, sd_pusher
from scd_trigger_spec.providers.shapes import PartialDecoder, Shape
from scd_trigger_spec.results import Ignored, Pong
from scd_trigger_spec.spec import App

__all__ = ["GitLab"]

_KINDS = {
    "push hook": "push",
    "tag push hook": "tag_push",
    "merge request hook": "merge_request",
}
# every field GitLab's or Codeup's parse reads (one decoder serves both): a test checks the
# partial decode against the whole payload
_REPOSITORY: dict[str, Shape] = {
    "project": {"path_with_namespace": None, "git_http_url": None},
    "repository": {"git_http_url": None, "homepage": None},
}
_PUSH = PartialDecoder(
    {
        "ref": None,
        "after": None,
        "before": None,
        "checkout_sha": None,
        "user_username": None,
        **PUSHER_SHAPE,
        "total_commits_count": None,
        "commits": [
            {"id": None, "message": None, "added": None, "modified": None, "removed": None}
        ],
        **_REPOSITORY,
    }
)
_MERGE_REQUEST = PartialDecoder(
    {
        "object_attributes": {
            "action": None,
            "state": None,
            "iid": None,
            "source_branch": None,
            "target_branch": None,
            "source_project_id": None,
            "target_project_id": None,
            "oldrev": None,
            "last_commit": {"id": None, "author": {"name": None, "email": None}},
            "merge_commit_sha": None,
            "title": None,
            "draft": None,
            "work_in_progress": None,
            "is_update_by_push": None,
            "target": {"web_url": None, "http_url": None},
        },
        **PUSHER_SHAPE,
        **_REPOSITORY,
    }
)

def _mr_fork(attributes: dict[str, Any]) -> bool:
    """Whether a merge request comes from another project than its target (a fork);
    when either id is missing the source cannot be vouched for, so it counts as one."""
    source = get_int(attributes, "source_project_id")
    target = get_int(attributes, "target_project_id")
    return source is None or target is None or source != target


_MR_ACTIONS = {
    "open": "opened",
    "reopen": "reopened",
    "close": "closed",
    "merge": "merged",
    "approval": "approved",
    "approved": "approved",
    "unapproval": "unapproved",
    "unapproved": "unapproved",
}


class GitLab(HeaderDetected):
    """The GitLab provider (stateless); subclassed by Codeup."""

    name = "gitlab"
    event_header = "x-gitlab-event"
    token_header = "X-Gitlab-Token"  # noqa: S105 - a header name
    delivery_headers: tuple[str, ...] = ("x-gitlab-event-uuid", "idempotency-key")
    decoders: Mapping[str, PartialDecoder] = MappingProxyType(
        {"Push Hook": _PUSH, "Tag Push Hook": _PUSH, "Merge Request Hook": _MERGE_REQUEST}
    )

    def verify(self, app: App, headers: Mapping[str, str], body: bytes, now: float) -> None:
        token_check(app, self.token_header, headers.get(self.token_header.lower()))

    def delivery_id(self, headers: Mapping[str, str], body: bytes) -> str:
        for header in self.delivery_headers:
            value = headers.get(header)
            if value:
                return value
        return body_digest(body)

    def parse(
        self, event: str, payload: dict[str, Any], headers: Mapping[str, str], delivery: str
    ) -> Parsed | Ignored | Pong:
        kind = _KINDS.get(event.lower())
        if event.lower() == "system hook":
            kind = get_str(payload, "object_kind")
        if kind in ("push", "tag_push"):
            return self._push(payload, delivery)
        if kind == "merge_request":
            return self._merge_request(payload, delivery)
        return not_a_trigger(event)

    def _repository(self, payload: dict[str, Any]) -> dict[str, Any]:
        path = get_str(payload, "project.path_with_namespace")
        return {
            "clone_url": get_str(payload, "project.git_http_url")
            or get_str(payload, "repository.git_http_url"),
            "repository": path,
            "repo_owner": path.rsplit("/", 1)[0] if path and "/" in path else None,
        }

    def mr_ref(self, iid: int, source: str) -> str:
        """The ref that holds a merge request's head commit."""
        return f"refs/merge-requests/{iid}/head"

    def sync_action(self, attributes: dict[str, Any]) -> str:
        """The action of an ``update``: new commits are ``synchronize``."""
        return "synchronize" if get_str(attributes, "oldrev") else "edited"

    def _push(self, payload: dict[str, Any], delivery: str) -> Parsed | Ignored:
        ref = need_str(payload, "ref")
        branch, tag = split_ref(ref)
        if branch is None and tag is None:
            return Ignored(f"ref '{ref}' is neither a branch nor a tag")
        after = need_sha(payload, "after")  # a push names its commit
        deleted = after == ZERO_SHA
        commits = get_list(payload, "commits")
        added, modified, removed = changed_files(commits)
        head = next((c for c in commits if c.get("id") == after), commits[-1] if commits else {})
        total = get_int(payload, "total_commits_count")
        created = get_str(payload, "before") == ZERO_SHA
        event = make_event(
            provider=self.name,
            event_name="tag" if tag is not None else "push",
            action="deleted" if deleted else ("created" if created else None),
            ref=ref,
            branch=branch,
            tag=tag,
            commit=None if deleted else (get_str(payload, "checkout_sha") or after),
            before=get_str(payload, "before"),
            message=get_str(head, "message"),
            pusher=get_str(payload, "user_username") or get_str(payload, "user_name"),
            **sd_pusher(payload, self.name, pull_request=False),
            added=added,
            modified=modified,
            removed=removed,
            delivery_id=delivery,
            payload=payload,
            **self._repository(payload),
        )
        complete = bool(commits) and (total is None or total <= len(commits))
        return Parsed(event, files_complete=complete)

    def _merge_request(self, payload: dict[str, Any], delivery: str) -> Parsed:
        attributes = get_dict(payload, "object_attributes") or {}
        raw = get_str(attributes, "action") or get_str(attributes, "state") or ""
        iid = need_int(attributes, "iid")
        source = need_str(attributes, "source_branch")
        target = need_str(attributes, "target_branch")
        action = self.sync_action(attributes) if raw == "update" else _MR_ACTIONS.get(raw, raw)
        merged = action == "merged" or get_str(attributes, "state") == "merged"
        last_commit = get_str(attributes, "last_commit.id")
        if action == "merged":
            ref, branch = f"refs/heads/{target}", target
            commit = get_str(attributes, "merge_commit_sha") or last_commit
        else:
            ref, branch, commit = self.mr_ref(iid, source), source, last_commit
        draft = get_bool(attributes, "draft")
        event = make_event(
            provider=self.name,
            event_name="pull_request",
            action=action,
            ref=ref,
            branch=branch,
            commit=commit,
            before=get_str(attributes, "oldrev"),
            message=get_str(attributes, "title"),
            pusher=get_str(payload, "user.username") or get_str(payload, "user.name"),
            **sd_pusher(payload, self.name, pull_request=True),
            pr_number=iid,
            source_branch=source,
            target_branch=target,
            merged=merged,
            draft=draft if draft is not None else get_bool(attributes, "work_in_progress"),
            fork=_mr_fork(attributes),
            delivery_id=delivery,
            payload=payload,
            **self._repository(payload),
        )
        return Parsed(event, files_complete=False)
