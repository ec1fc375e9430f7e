"""Built-in plugin ``cache``: restore paths before, save them after a successful run.

``with: {key, path, restore-keys}``. ``path`` is one path or a list (or
newline-separated lines) relative to the workspace; ``restore-keys`` are key
prefixes tried in order when the exact key is absent (newest match wins).
Outputs ``cache-hit`` (``true`` only for the exact key) and
``cache-matched-key``.

Why save at the end of the run and only after success (as actions/cache does):
the usual pipeline restores, installs, then builds; only at the end does the
path hold what the later steps put there, and a failed run may have left it
half-written, which must not poison every later run. An exact hit is not
saved again. Archives are written to a temp file and renamed into place, so a
concurrent reader sees an old archive or a new one, never half of one. Cache
trouble is logged as a warning and never fails a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scd_core.errors import BadRequest

from scd_engine.plugins.context import PluginContext

__all__ = ["run"]


def run(inputs: dict[str, Any], ctx: PluginContext) -> Mapping[str, Any]:
    """Restore the best archive for ``key`` and register the end-of-run save."""
    key = str(inputs.get("key") or "").strip()
    if not key:
        raise BadRequest("cache: 'key' is required")
    paths = _lines(inputs.get("path"))
    if not paths:
        raise BadRequest("cache: 'path' is required")
    root = ctx.workspace.resolve()
    for p in paths:
        if not (root / p).resolve().is_relative_to(root):
            raise BadRequest(f"cache: path {p!r} is outside the workspace")
    store = ctx.cache_dir
    matched = _match(store, key, _lines(inputs.get("restore-keys")))
    if matched is None:
        ctx.log(f"cache: no archive for key {key}")
    else:
        try:
            with tarfile.open(_archive(store, matched), "r:gz") as tar:
                _extract(tar, root)
        except (OSError, tarfile.TarError, BadRequest) as exc:
            ctx.log(f"warning: cache: restoring key {matched} failed: {exc}")
            matched = None
        else:
            ctx.log(f"cache: restored key {matched}")
    hit = matched == key
    if not hit:
        ctx.at_end(lambda post, status: _save(post, status, key, paths))
    return {"cache-hit": hit, "cache-matched-key": matched or ""}


def _save(ctx: PluginContext, status: str, key: str, paths: list[str]) -> None:
    if status != "success":
        ctx.log(f"cache: not saving key {key}: the run did not succeed")
        return
    root = ctx.workspace.resolve()
    present = [p for p in paths if (root / p).exists()]
    if not present:
        ctx.log(f"warning: cache: nothing to save for key {key}: no path exists")
        return
    store = ctx.cache_dir
    try:
        store.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=store, suffix=".part")
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for p in present:
                tar.add(root / p, arcname=os.path.normpath(p))
        os.replace(tmp, _archive(store, key))
        _meta(store, key).write_text(json.dumps({"key": key}), encoding="utf-8")
    except OSError as exc:
        ctx.log(f"warning: cache: saving key {key} failed: {exc}")
        return
    ctx.log(f"cache: saved key {key}")


def _match(store: Path, key: str, prefixes: list[str]) -> str | None:
    if _archive(store, key).is_file():
        return key
    if not prefixes or not store.is_dir():
        return None
    known: list[tuple[float, str]] = []
    for meta in store.glob("*.json"):
        try:
            entry = json.loads(meta.read_text(encoding="utf-8"))["key"]
            known.append((_archive(store, entry).stat().st_mtime, entry))
        except (OSError, ValueError, KeyError):
            continue  # a half-written or foreign file is not a cache entry
    for prefix in prefixes:
        found = sorted((t, k) for t, k in known if k.startswith(prefix))
        if found:
            return found[-1][1]
    return None


def _extract(tar: tarfile.TarFile, root: Path) -> None:
    if hasattr(tarfile, "data_filter"):
        tar.extractall(root, filter="data")
        return
    # Python without extraction filters: refuse members that would escape root.
    for member in tar.getmembers():
        target = (root / member.name).resolve()
        if not target.is_relative_to(root) or member.issym() or member.islnk():
            raise BadRequest(f"cache: unsafe member {member.name!r} in archive")
    tar.extractall(root)  # noqa: S202  members checked above


def _lines(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).splitlines()
    return [str(i).strip() for i in items if str(i).strip()]


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _archive(store: Path, key: str) -> Path:
    return store / f"{_digest(key)}.tar.gz"


def _meta(store: Path, key: str) -> Path:
    return store / f"{_digest(key)}.json"
