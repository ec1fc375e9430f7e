"""Alibaba Cloud Codeup webhooks: ``X-Codeup-Event``, ``X-Codeup-Token``, ``X-Codeup-Delivery``.

Payloads are GitLab-shaped (``object_kind``, ``object_attributes``, ``commits``), with the
repository under ``repository`` (``git_http_url``, ``homepage``) rather than ``project``, and
``user_name`` rather than ``user_username``. The token header carries the secret itself.
An ``update`` caused by a push (``is_update_by_push``) is ``synchronize``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from scd_trigger_spec.providers.fields import get_bool, get_str
from scd_trigger_spec.providers.gitlab import GitLab

__all__ = ["Codeup"]


def _url_path(url: str) -> str | None:
    try:
        return urlsplit(url).path.strip("/") or None
    except ValueError:  # a malformed URL in the payload: no repository name, not an error
        return None


class Codeup(GitLab):
    """The Codeup provider (stateless)."""

    name = "codeup"
    event_header = "x-codeup-event"
    token_header = "X-Codeup-Token"  # noqa: S105 - a header name
    delivery_headers = ("x-codeup-delivery",)

    def _repository(self, payload: dict[str, Any]) -> dict[str, Any]:
        homepage = get_str(payload, "repository.homepage") or get_str(
            payload, "object_attributes.target.web_url"
        )
        path = _url_path(homepage) if homepage else None
        return {
            "clone_url": get_str(payload, "repository.git_http_url")
            or get_str(payload, "object_attributes.target.http_url"),
            "repository": path,
            "repo_owner": path.rsplit("/", 1)[0] if path and "/" in path else None,
        }

    def mr_ref(self, iid: int, source: str) -> str:
        return f"refs/heads/{source}"

    def sync_action(self, attributes: dict[str, Any]) -> str:
        return "synchronize" if get_bool(attributes, "is_update_by_push") else "edited"
