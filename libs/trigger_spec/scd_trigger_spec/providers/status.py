"""Commit statuses: what each provider's status API is sent, and sending it.

Contract: :func:`status_request` is pure: it turns a :class:`CommitStatus` (scd's
status word) into the one HTTP call the provider's API wants (method, URL, JSON
body), with the provider's own state word. :func:`auth_headers` is the only place
the token goes, so a caller may log or store a :class:`StatusCall` freely.
:func:`report_status` sends it with an ``httpx.Client`` and raises
``BackendError`` (status code and a short reason, never the token) unless the
provider answered 2xx. Safe from many threads; nothing here keeps state.

APIs: GitHub ``POST {api}/repos/{owner}/{repo}/statuses/{sha}`` (Bearer token;
states ``pending success failure error``); Gitee ``POST
{api}/repos/{owner}/{repo}/statuses/{sha}`` (``Authorization: token``; GitHub's
states); GitLab ``POST {api}/projects/{path}/statuses/{sha}`` (``PRIVATE-TOKEN``;
``pending running success failed canceled``); Codeup ``POST
{api}/oapi/v1/codeup/organizations/{org}/repositories/{path}/commits/{sha}/statuses``
(``x-yunxiao-token``; GitHub's states, ``targetUrl``). ``api`` is the app's
``status_api`` when set (GitHub Enterprise, a self-hosted GitLab, a test double),
else the provider's public API (GitLab: the repository's host).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from scd_core.errors import BackendError, BadRequest

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CommitStatus",
    "StatusCall",
    "auth_headers",
    "report_status",
    "repository_path",
    "status_request",
]

_PUBLIC_API = {
    "github": "https://api.github.com",
    "gitee": "https://gitee.com/api/v5",
    "codeup": "https://openapi-rdc.aliyuncs.com",
}
_GITHUB_STATES = {
    "queued": "pending",
    "pending": "pending",
    "running": "pending",
    "paused": "pending",
    "success": "success",
    "skipped": "success",
    "failure": "failure",
    "cancelled": "error",
    "error": "error",
}
_GITLAB_STATES = {
    "queued": "pending",
    "pending": "pending",
    "paused": "pending",
    "running": "running",
    "success": "success",
    "skipped": "success",
    "failure": "failed",
    "error": "failed",
    "cancelled": "canceled",
}
_DESCRIPTION_MAX = 140  # GitHub refuses longer descriptions


@dataclass(frozen=True)
class CommitStatus:
    """One status to set: on ``sha`` of ``repository`` (``owner/name`` or a deeper
    GitLab/Codeup path), scd's ``status`` word, under ``context``."""

    provider: str
    repository: str
    sha: str
    status: str
    context: str
    target_url: str | None = None
    description: str = ""
    api: str | None = None


@dataclass(frozen=True)
class StatusCall:
    """The HTTP call that sets a status, without its credentials."""

    method: str
    url: str
    body: dict[str, Any] = field(default_factory=dict)


def repository_path(repo_url: str) -> str:
    """``owner/name`` (or a deeper path) of a repository URL, without ``.git``."""
    # scp-like addresses: git@host:owner/name.git
    path = urlsplit(repo_url).path if "://" in repo_url else repo_url.split(":", 1)[-1]
    path = path.strip("/")
    return path[:-4] if path.endswith(".git") else path


def _api(status: CommitStatus, repo_url: str | None) -> str:
    if status.api:
        return status.api.rstrip("/")
    if status.provider == "gitlab":
        parts = urlsplit(repo_url or "")
        host = parts.hostname or "gitlab.com"
        return f"https://{host}/api/v4"
    return _PUBLIC_API[status.provider]


def status_request(status: CommitStatus, repo_url: str | None = None) -> StatusCall:
    """The call setting ``status``; ``BadRequest`` for an unknown provider or status."""
    if status.provider not in ("github", "gitee", "gitlab", "codeup"):
        raise BadRequest(f"commit statuses: unknown provider {status.provider!r}")
    if status.status not in _GITHUB_STATES:
        raise BadRequest(f"commit statuses: unknown status {status.status!r}")
    api = _api(status, repo_url)
    sha = quote(status.sha, safe="")
    description = status.description[:_DESCRIPTION_MAX]
    if status.provider == "gitlab":
        body: dict[str, Any] = {
            "state": _GITLAB_STATES[status.status],
            "name": status.context,
            "description": description,
        }
        if status.target_url:
            body["target_url"] = status.target_url
        project = quote(status.repository, safe="")
        return StatusCall("POST", f"{api}/projects/{project}/statuses/{sha}", body)
    state = _GITHUB_STATES[status.status]
    if status.provider == "codeup":
        org, _, _rest = status.repository.partition("/")
        body = {"state": state, "context": status.context, "description": description}
        if status.target_url:
            body["targetUrl"] = status.target_url
        repo = quote(status.repository, safe="")
        url = f"{api}/oapi/v1/codeup/organizations/{quote(org, safe='')}/repositories/{repo}"
        return StatusCall("POST", f"{url}/commits/{sha}/statuses", body)
    body = {"state": state, "context": status.context, "description": description}
    if status.target_url:
        body["target_url"] = status.target_url
    owner_repo = "/".join(quote(part, safe="") for part in status.repository.split("/"))
    return StatusCall("POST", f"{api}/repos/{owner_repo}/statuses/{sha}", body)


def auth_headers(provider: str, token: str) -> dict[str, str]:
    """The headers carrying ``token`` to ``provider``'s API."""
    if provider == "gitlab":
        return {"PRIVATE-TOKEN": token}
    if provider == "codeup":
        return {"x-yunxiao-token": token}
    if provider == "gitee":
        return {"Authorization": f"token {token}"}
    return {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}


def report_status(
    client: httpx.Client, status: CommitStatus, token: str, repo_url: str | None = None
) -> int:
    """Set ``status`` on the provider; the HTTP status code, or ``BackendError``."""
    import httpx

    call = status_request(status, repo_url)
    headers = {"User-Agent": "scd", **auth_headers(status.provider, token)}
    try:
        response = client.request(call.method, call.url, json=call.body, headers=headers)
    except httpx.HTTPError as exc:
        raise BackendError(f"{status.provider} status API: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise BackendError(f"{status.provider} status API answered {response.status_code}")
    return response.status_code
