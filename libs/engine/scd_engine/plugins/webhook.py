"""Built-in plugin ``notify-webhook``: send the run's state to a URL as JSON.

``with: {url, body?, method?, headers?, timeout?}``. Without ``body`` it sends
``{run_id, app, status, git: {...}, steps: {id: conclusion}}``, where
``status`` is what the run is so far (``success`` or ``failure``), so a
pipeline can end with ``if: ${{ always() }}`` and report either way. ``body``
may be a mapping (sent as JSON) or a string (sent as it is). A response
outside 2xx fails the step. Outputs ``status`` (the HTTP status code).
The URL is logged masked: a bot token in it (DingTalk, Slack) is a secret.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from scd_core.errors import BackendError, BadRequest

from scd_engine.plugins.context import PluginContext

__all__ = ["run"]


def run(inputs: dict[str, Any], ctx: PluginContext) -> Mapping[str, Any]:
    """POST (or ``method``) the body to ``url``; fail on a non-2xx answer."""
    url = str(inputs.get("url") or "")
    if not url.startswith(("http://", "https://")):
        raise BadRequest("notify-webhook: 'url' must be an http:// or https:// URL")
    body = inputs.get("body")
    if body is None:
        body = _summary(ctx)
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "scd"}
    headers.update({str(k): str(v) for k, v in (inputs.get("headers") or {}).items()})
    method = str(inputs.get("method") or "POST").upper()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    timeout = float(inputs.get("timeout") or 10)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        raise BackendError(f"notify-webhook: {method} {ctx.masker.mask(url)}: {exc}") from exc
    ctx.log(f"notify-webhook: {method} {url} -> {status}")
    if not 200 <= status < 300:
        raise BackendError(f"notify-webhook: {method} {ctx.masker.mask(url)} answered {status}")
    return {"status": status}


def _summary(ctx: PluginContext) -> dict[str, Any]:
    steps = ctx.contexts.get("steps", {})
    failed = any(s.get("conclusion") == "failure" for s in steps.values())
    return {
        "run_id": ctx.run_id,
        "app": ctx.contexts.get("app", {}).get("name"),
        "status": "failure" if failed else "success",
        "git": ctx.contexts.get("git", {}),
        "steps": {k: s.get("conclusion") for k, s in steps.items()},
    }
