"""Build the expression contexts of a run from its event and inputs.

Contract: :func:`base_contexts` returns a fresh dict with every context name
the expression language knows (``git event env secrets steps inputs matrix
needs task app sts``); the runner then fills ``env`` and ``steps`` as the run
goes. ``git`` holds serverless-cd's normalised fields as its worker builds them
(``provider repo_owner clone_url ref branch tag commit message event_name
pusher``) beside the rest of :class:`~scd_core.models.Event`: ``pusher`` is the
object ``{name, email, avatar_url}`` (plus scd's ``login``), and a tag push is
``event_name: push`` with ``tag`` set (the event itself keeps scd's word
``tag``). ``event`` is the provider's raw payload. ``sts`` holds the worker's
cloud credentials (``accessKeyId accessKeySecret securityToken``, from the
``ALIBABA_CLOUD_*`` variables), which the runner masks. Values are plain
JSON-like data, so a context can be dumped to a file for a ``script`` step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from scd_core.models import Event

__all__ = ["STS_VARIABLES", "base_contexts", "git_context", "step_context", "sts_context"]

# sts context key -> the variable FC gives a function's role (and scd's settings read)
STS_VARIABLES = {
    "accessKeyId": "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "accessKeySecret": "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "securityToken": "ALIBABA_CLOUD_SECURITY_TOKEN",
}
_PUSHER_FIELDS = {"pusher_name", "pusher_email", "pusher_avatar"}


def git_context(event: Event | None) -> dict[str, Any]:
    """serverless-cd's ``git`` context for ``event`` (empty for a plain local run)."""
    if event is None:
        return {}
    data = event.model_dump(mode="json", exclude={"payload", "inputs", *_PUSHER_FIELDS})
    if not data.get("repo_owner") and event.repository and "/" in event.repository:
        data["repo_owner"] = event.repository.split("/", 1)[0]
    if event.event_name == "tag":
        data["event_name"] = "push"  # serverless-cd: a tag push is a push with git.tag set
    data["pusher"] = {
        "name": event.pusher_name or event.pusher,
        "email": event.pusher_email,
        "avatar_url": event.pusher_avatar,
        "login": event.pusher,
    }
    return data


def sts_context(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """serverless-cd's ``sts``: the worker's credentials from ``environ`` (``os.environ``);
    a variable that is unset or empty is left out."""
    source = os.environ if environ is None else environ
    return {key: source[name] for key, name in STS_VARIABLES.items() if source.get(name)}


def base_contexts(
    *,
    event: Event | None,
    secrets: Mapping[str, str],
    inputs: Mapping[str, str],
    run_id: str,
    app: Mapping[str, Any] | None = None,
    task: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every context of a run before its first step; inputs override the event's.

    ``environ`` is where ``sts`` comes from (default ``os.environ``, the worker's).
    """
    merged_inputs: dict[str, Any] = dict(event.inputs) if event is not None else {}
    merged_inputs.update(inputs)
    return {
        "git": git_context(event),
        "event": dict(event.payload) if event is not None else {},
        "env": {},
        "secrets": dict(secrets),
        "steps": {},
        "inputs": merged_inputs,
        "matrix": {},
        "needs": {},
        "task": {"id": run_id, **(task or {})},
        "app": dict(app or {}),
        "sts": sts_context(environ),
    }


def step_context(
    *, outputs: Mapping[str, str], outcome: str, conclusion: str, status: str
) -> dict[str, Any]:
    """The ``steps.<id>`` entry of a finished step.

    ``status`` keeps serverless-cd's word: ``error-with-continue`` for a failure
    that ``continue-on-error`` absorbed.
    """
    return {
        "outputs": dict(outputs),
        "outcome": outcome,
        "conclusion": conclusion,
        "status": status,
    }
