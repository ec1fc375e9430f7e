"""Build the expression contexts of a run from its event and inputs.

Contract: :func:`base_contexts` returns a fresh dict with every context name
the expression language knows (``git event env secrets steps inputs matrix
needs task app``); the runner then fills ``env`` and ``steps`` as the run
goes. ``git`` holds serverless-cd's normalised fields (``provider repo_owner
clone_url ref branch tag commit message event_name pusher`` and the rest of
:class:`~scd_core.models.Event`); ``event`` is the provider's raw payload.
Values are plain JSON-like data, so a context can be dumped to a file for a
``script`` step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scd_core.models import Event

__all__ = ["base_contexts", "git_context", "step_context"]


def git_context(event: Event | None) -> dict[str, Any]:
    """serverless-cd's ``git`` context for ``event`` (empty for a plain local run)."""
    if event is None:
        return {}
    data = event.model_dump(mode="json", exclude={"payload", "inputs"})
    if not data.get("repo_owner") and event.repository and "/" in event.repository:
        data["repo_owner"] = event.repository.split("/", 1)[0]
    return data


def base_contexts(
    *,
    event: Event | None,
    secrets: Mapping[str, str],
    inputs: Mapping[str, str],
    run_id: str,
    app: Mapping[str, Any] | None = None,
    task: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every context of a run before its first step; inputs override the event's."""
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
