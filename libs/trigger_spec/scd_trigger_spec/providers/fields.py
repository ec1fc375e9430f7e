"""Typed reads from an untrusted webhook payload.

Contract: every reader returns the value or ``None`` when it is absent (or JSON ``null``);
a value of the wrong type raises ``BadRequest`` naming the field, and a ``required`` field
that is absent raises ``BadRequest`` too. Nothing here raises anything else.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from scd_core.errors import BadRequest

__all__ = [
    "ZERO_SHA",
    "body_digest",
    "changed_files",
    "get_bool",
    "get_dict",
    "get_int",
    "get_list",
    "get_str",
    "need_int",
    "need_sha",
    "need_str",
    "split_ref",
]

ZERO_SHA = "0" * 40
# SHA-1 or SHA-256 object names, as git prints them
_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")


_SPLIT: dict[str, tuple[str, ...]] = {}


def _walk(payload: dict[str, Any], path: str) -> Any:
    keys = _SPLIT.get(path)
    if keys is None:  # paths are literals in the providers: the cache stays small
        keys = _SPLIT[path] = tuple(path.split("."))
    current: Any = payload
    for key in keys:
        if current.__class__ is not dict:
            return None
        current = current.get(key)
    return current


def _typed(payload: dict[str, Any], path: str, kind: type, required: bool) -> Any:
    value = _walk(payload, path)
    if value is None:
        if required:
            raise BadRequest(f"payload is missing '{path}'")
        return None
    # bool is an int in Python; a JSON true is no PR number
    if value.__class__ is not kind:
        raise BadRequest(f"payload field '{path}' must be {kind.__name__}")
    return value


def get_str(payload: dict[str, Any], path: str) -> str | None:
    """A string field, or ``None`` when absent."""
    value = _walk(payload, path)
    if value is None or value.__class__ is str:
        return value
    raise BadRequest(f"payload field '{path}' must be str")


def get_int(payload: dict[str, Any], path: str) -> int | None:
    value: int | None = _typed(payload, path, int, False)
    return value


def need_str(payload: dict[str, Any], path: str) -> str:
    """A string field the provider cannot do without (``BadRequest`` when absent)."""
    value: str = _typed(payload, path, str, True)
    return value


def need_sha(payload: dict[str, Any], path: str) -> str:
    """A commit id the event cannot do without: 40 or 64 lower-case hex digits
    (``BadRequest`` naming the field when absent or anything else)."""
    value = need_str(payload, path)
    if not _SHA.fullmatch(value):
        raise BadRequest(f"payload field '{path}' must be a commit SHA (40 or 64 hex digits)")
    return value


def need_int(payload: dict[str, Any], path: str) -> int:
    """An integer field the provider cannot do without (``BadRequest`` when absent)."""
    value: int = _typed(payload, path, int, True)
    return value


def get_bool(payload: dict[str, Any], path: str) -> bool | None:
    value: bool | None = _typed(payload, path, bool, False)
    return value


def get_dict(payload: dict[str, Any], path: str) -> dict[str, Any] | None:
    value: dict[str, Any] | None = _typed(payload, path, dict, False)
    return value


def get_list(payload: dict[str, Any], path: str) -> list[Any]:
    value: list[Any] | None = _typed(payload, path, list, False)
    return value if value is not None else []


def split_ref(ref: str) -> tuple[str | None, str | None]:
    """``(branch, tag)`` of a full ref; both ``None`` for other refs (notes, pulls)."""
    if ref.startswith("refs/heads/"):
        return ref[len("refs/heads/") :], None
    if ref.startswith("refs/tags/"):
        return None, ref[len("refs/tags/") :]
    return None, None


def _add_paths(bucket: dict[str, None], commit: dict[str, Any], key: str) -> None:
    value = commit.get(key)
    if value is None:
        return
    if value.__class__ is not list or not all(p.__class__ is str for p in value):
        raise BadRequest(f"payload field 'commits[].{key}' must be a list of strings")
    for path in value:
        bucket[path] = None


def changed_files(commits: list[Any]) -> tuple[list[str], list[str], list[str]]:
    """The union (first-seen order) of ``added``, ``modified``, ``removed`` over commits."""
    added: dict[str, None] = {}
    modified: dict[str, None] = {}
    removed: dict[str, None] = {}
    for commit in commits:
        if commit.__class__ is not dict:
            raise BadRequest("payload field 'commits' must hold objects")
        _add_paths(added, commit, "added")
        _add_paths(modified, commit, "modified")
        _add_paths(removed, commit, "removed")
    return list(added), list(modified), list(removed)


def body_digest(body: bytes) -> str:
    """A stable delivery id for providers that send none: sha256 of the raw body."""
    return hashlib.sha256(body).hexdigest()
