"""serverless-cd plugins that scd runs natively instead of through Node.

Contract: :func:`native_equivalent` maps ``@serverless-cd/cache``,
``@serverless-cd/ding-talk`` and ``@serverless-cd/checkout`` (any version pin;
``npm:`` forces the npm package instead) to scd plugins taking the npm plugin's inputs:

- cache: ``key`` and ``path`` (one path or a list) go to the built-in ``cache``;
  paths outside the workspace (``~/.npm``) are left out with a log line, since the
  built-in cache keeps workspace paths only; the OSS settings serverless-cd's plugin
  reads are not used (archives live in the worker's cache dir). Outputs
  ``cache-hit`` as the npm plugin does.
- ding-talk: the built-in ``dingtalk`` (see :mod:`~scd_engine.plugins.notify`), which
  takes the npm plugin's ``webhook``, ``secret``, ``msgtype`` and ``payload``.
- checkout: the set-up step already checked the run's commit out, so with no
  ``ref``/``commit`` in the inputs (or the run's own) it logs that and does
  nothing; another ``commit`` or ``ref`` is checked out in the workspace (from
  the local objects, else fetched from ``origin``), as the npm plugin would.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scd_core.errors import ScdError

from scd_engine.plugins import cache, notify
from scd_engine.plugins.context import Plugin, PluginContext

__all__ = ["native_equivalent"]

_GIT_TIMEOUT_S = 600.0


class NativeCheckoutError(ScdError):
    """The workspace could not be moved to the ref or commit a checkout step asked for."""

    code = "plugin_error"


def native_equivalent(name: str) -> Plugin | None:
    """The scd plugin standing in for serverless-cd plugin ``name``, or None."""
    package = name.strip()
    at = package.find("@", 1)
    if at > 0:
        package = package[:at]
    return _NATIVE.get(package)


def sd_cache(inputs: dict[str, Any], ctx: PluginContext) -> Mapping[str, Any]:
    """``@serverless-cd/cache`` on the built-in cache (see the module doc)."""
    raw = inputs.get("path")
    paths = [str(p) for p in raw] if isinstance(raw, list) else str(raw or "").splitlines()
    root = ctx.workspace.resolve()
    kept = []
    for path in (p.strip() for p in paths if p.strip()):
        inside = not path.startswith("~") and (root / path).resolve().is_relative_to(root)
        if inside:
            kept.append(path)
        else:
            ctx.log(f"cache: {path} is outside the workspace: scd's built-in cache leaves it out")
    if not kept:
        ctx.log("cache: no path inside the workspace to cache")
        return {"cache-hit": False}
    translated = {"key": inputs.get("key"), "path": kept}
    if inputs.get("restore-keys"):
        translated["restore-keys"] = inputs["restore-keys"]
    outputs = cache.run(translated, ctx)
    return {"cache-hit": outputs["cache-hit"]}


def sd_checkout(inputs: dict[str, Any], ctx: PluginContext) -> Mapping[str, Any]:
    """``@serverless-cd/checkout`` on the set-up step's checkout (see the module doc)."""
    git_ctx = ctx.contexts.get("git") or {}
    ref = str(inputs.get("ref") or "") or None
    commit = str(inputs.get("commit") or "") or None
    same_commit = commit is None or commit == git_ctx.get("commit")
    if same_commit and (ref is None or ref == git_ctx.get("ref")):
        ctx.log(
            "checkout: the set-up step already checked out "
            f"{git_ctx.get('commit') or 'the run commit'} into the workspace: nothing to do"
        )
        return {}
    branch = ref[len("refs/heads/") :] if ref and ref.startswith("refs/heads/") else None
    target = commit if commit and _git_ok(ctx, "cat-file", "-e", f"{commit}^{{commit}}") else None
    if target is None:
        wanted = commit or ref or ""
        ctx.log(f"checkout: fetching {wanted} from origin")
        _git(ctx, "fetch", "--quiet", "--depth", "1", "origin", wanted)
        target = "FETCH_HEAD"
    if branch:
        _git(ctx, "checkout", "--quiet", "--force", "-B", branch, target)
    else:
        _git(ctx, "checkout", "--quiet", "--force", "--detach", target)
    head = _git(ctx, "rev-parse", "HEAD").strip()
    ctx.log(f"checkout: HEAD is now at {head}")
    return {}


def _git_ok(ctx: PluginContext, *args: str) -> bool:
    try:
        _git(ctx, *args)
    except NativeCheckoutError:
        return False
    return True


def _git(ctx: PluginContext, *args: str) -> str:
    workspace = Path(ctx.workspace)
    try:
        done = subprocess.run(  # an argv, no shell
            ["git", "-C", str(workspace), *args],
            env=ctx.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NativeCheckoutError(f"checkout: git {args[0]} failed: {exc}") from exc
    if done.returncode != 0:
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        raise NativeCheckoutError(f"checkout: git {args[0]} failed: {tail}")
    return done.stdout


_NATIVE: dict[str, Plugin] = {
    "@serverless-cd/cache": sd_cache,
    "@serverless-cd/ding-talk": notify.dingtalk,
    "@serverless-cd/checkout": sd_checkout,
}
