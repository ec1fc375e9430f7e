"""Shared helpers for the scd_trigger_spec tests: signing deliveries and locating the corpus."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from factories import APP_SECRET

SECRET = APP_SECRET  # the apps of make_app sign with it
CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def corpus_dir(*parts: str) -> Path:
    """A corpus folder, or skip the test when the corpus is not checked out next to the repo."""
    path = CORPUS.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f"corpus folder {path} is absent (expected ../shared/corpus)")
    return path


def github_headers(
    body: bytes, event: str, secret: str = SECRET, delivery: str = "d-1"
) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
    }


def gitee_signature(timestamp_ms: int, secret: str = SECRET) -> str:
    message = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def github_push(
    ref: str = "refs/heads/main",
    message: str = "change things",
    files: tuple[list[str], list[str], list[str]] = (["src/app.py"], [], []),
    **extra: Any,
) -> dict[str, Any]:
    """A small but complete GitHub push payload."""
    added, modified, removed = files
    commit = {
        "id": "a" * 40,
        "message": message,
        "added": added,
        "modified": modified,
        "removed": removed,
    }
    payload: dict[str, Any] = {
        "ref": ref,
        "before": "b" * 40,
        "after": "a" * 40,
        "created": False,
        "deleted": False,
        "commits": [commit],
        "head_commit": commit,
        "pusher": {"name": "octo"},
        "sender": {"login": "octo"},
        "repository": {
            "full_name": "acme/web",
            "clone_url": "https://github.com/acme/web.git",
            "owner": {"login": "acme"},
        },
    }
    payload.update(extra)
    return payload


def github_pr(
    action: str = "opened",
    target: str = "main",
    source: str = "feature/x",
    merged: bool = False,
    number: int = 7,
) -> dict[str, Any]:
    """A small GitHub pull_request payload."""
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "merged": merged,
            "draft": False,
            "title": "Add x",
            "merge_commit_sha": "c" * 40,
            "head": {"ref": source, "sha": "d" * 40},
            "base": {"ref": target, "sha": "e" * 40},
        },
        "sender": {"login": "octo"},
        "repository": {
            "full_name": "acme/web",
            "clone_url": "https://github.com/acme/web.git",
            "owner": {"login": "acme"},
        },
    }
