"""Events that do not come from a webhook: manual runs and schedule ticks.

Contract:

- ``manual_event`` accepts ``ref`` as ``refs/heads/<b>``, ``refs/tags/<t>`` or a bare branch
  name; a ref git would refuse (or one starting with ``-``), a commit that is not 7-64 hex
  digits, or an empty request id raise ``BadRequest``; an app with ``trigger.manual: false``
  raises ``Forbidden``. Dedup key: ``"<app>:manual:<request id>"``.
- ``schedule_event`` takes the cron text and the tick (read as UTC when naive); its dedup key
  ``"<app>:schedule:<cron>:<tick isoformat>"`` makes one tick one run across processes. The
  app's matching ``schedule`` entry (same name as ``trigger_name``, else same cron) supplies
  ``ref`` and ``inputs``; with none, the default branch and no inputs.
- ``Event.provider`` is the app's provider, else guessed from the repository host, else
  ``"git"``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from urllib.parse import urlsplit

from scd_core.errors import BadRequest, Forbidden
from scd_core.models import Event

from scd_trigger_spec.cron import parse_cron
from scd_trigger_spec.providers.fields import split_ref
from scd_trigger_spec.results import Accepted
from scd_trigger_spec.spec import App, Schedule

__all__ = ["manual_event", "normalize_ref", "repository_of", "schedule_event"]

_SHA = re.compile(r"[0-9a-fA-F]{7,64}")
_BAD_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(/|$)")
_HOSTS = {"github.com": "github", "gitee.com": "gitee", "codeup.aliyun.com": "codeup"}


def normalize_ref(ref: str) -> tuple[str, str | None, str | None]:
    """``(full ref, branch, tag)`` of a ref or bare branch name; ``BadRequest`` if invalid."""
    full = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
    branch, tag = split_ref(full)
    name = branch if branch is not None else tag
    if (
        not name
        or len(full) > 255
        or _BAD_REF.search(full)
        or name.startswith(("-", "/", "."))
        or full.endswith(("/", "."))
    ):
        raise BadRequest(f"invalid ref {ref[:100]!r}: give a branch, refs/heads/… or refs/tags/…")
    return full, branch, tag


def repository_of(url: str) -> tuple[str | None, str | None]:
    """``(owner/name, owner)`` from a clone URL (https or scp-like ``git@host:path``)."""
    path = url.split(":", 1)[1] if "://" not in url and ":" in url else _url_path(url)
    path = path.strip("/").removesuffix(".git")
    if "/" not in path:
        return (path or None), None
    return path, path.rsplit("/", 1)[0]


def _url_path(url: str) -> str:
    try:
        return urlsplit(url).path
    except ValueError:
        return ""


def _provider_of(app: App) -> str:
    if app.provider is not None:
        return app.provider
    try:
        host = (urlsplit(app.repo).hostname or "") if "://" in app.repo else ""
    except ValueError:
        host = ""
    if not host and "@" in app.repo:
        host = app.repo.split("@", 1)[1].split(":", 1)[0]
    return _HOSTS.get(host, "gitlab" if "gitlab" in host else "git")


def _common(app: App) -> dict[str, str | None]:
    repository, owner = repository_of(app.repo)
    return {
        "provider": _provider_of(app),
        "clone_url": app.repo,
        "repository": repository,
        "repo_owner": owner,
    }


def manual_event(
    app: App, *, ref: str, commit: str | None, inputs: Mapping[str, str], request_id: str
) -> Accepted:
    """A manual run request as an accepted event (see module doc)."""
    if not app.trigger.manual:
        raise Forbidden(f"manual runs are disabled for app '{app.name}' (trigger.manual: false)")
    if not request_id:
        raise BadRequest("a manual run needs a request id")
    full, branch, tag = normalize_ref(ref)
    if commit is not None and not _SHA.fullmatch(commit):
        raise BadRequest("commit must be 7 to 64 hexadecimal digits")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in inputs.items()):
        raise BadRequest("inputs must map strings to strings")
    event = Event(
        event_name="manual",
        ref=full,
        branch=branch,
        tag=tag,
        commit=commit,
        delivery_id=request_id,
        inputs=dict(inputs),
        **_common(app),
    )
    return Accepted(event, f"{app.name}:manual:{request_id}")


def _schedule_entry(app: App, cron: str, trigger_name: str | None) -> Schedule | None:
    entries = app.trigger.schedule
    named = [s for s in entries if trigger_name is not None and s.name == trigger_name]
    same_cron = [s for s in entries if s.cron == cron]
    return next(iter(named or same_cron), None)


def schedule_event(
    app: App, *, cron: str, tick: datetime, trigger_name: str | None = None
) -> Accepted:
    """A schedule tick as an accepted event (see module doc)."""
    try:
        parse_cron(cron)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    moment = tick.replace(tzinfo=timezone.utc) if tick.tzinfo is None else tick
    stamp = moment.astimezone(timezone.utc).isoformat()
    entry = _schedule_entry(app, cron, trigger_name)
    full = branch = tag = None
    if entry is not None and entry.ref is not None:
        full, branch, tag = normalize_ref(entry.ref)
    event = Event(
        event_name="schedule",
        ref=full,
        branch=branch,
        tag=tag,
        delivery_id=f"schedule:{cron}:{stamp}",
        inputs=dict(entry.inputs) if entry is not None else {},
        payload={"cron": cron, "tick": stamp, "trigger_name": trigger_name},
        **_common(app),
    )
    return Accepted(event, f"{app.name}:schedule:{cron}:{stamp}")
