"""What ``scd demo`` does: a local repository, a commit, a signed push webhook, a run followed.

Contract: :func:`commit_demo` creates the demo repository (``git init``, branch
``main``, the demo pipeline) on first use and adds one commit per call, so each
demo is a new commit; it returns the push as GitHub would describe it.
:func:`push_webhook` is that push as a GitHub ``push`` delivery: its body and
headers, signed with the secret. :class:`RunFollower` polls the read API and
reports each step once when it ends (its status and log). Git runs with a fixed
author and without the user's hooks or templates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scd_core.errors import ScdError
from scd_core.models import FINAL_STATUSES

__all__ = ["DemoPush", "RunFollower", "commit_demo", "push_webhook"]

_ZERO = "0" * 40
_GIT_IDENTITY = (
    "-c",
    "user.name=scd demo",
    "-c",
    "user.email=demo@scd.invalid",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "commit.gpgsign=false",
)


@dataclass(frozen=True)
class DemoPush:
    """One commit pushed to ``main`` of the demo repository."""

    repo: Path
    before: str
    after: str
    message: str
    modified: list[str]
    added: list[str]


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *_GIT_IDENTITY, *args],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    except FileNotFoundError as exc:
        raise ScdError("git is not installed (scd demo needs it)") from exc
    except subprocess.CalledProcessError as exc:
        raise ScdError(f"git {args[0]} failed: {exc.stderr.strip()[-500:]}") from exc
    return done.stdout.strip()


def commit_demo(repo: Path, pipeline: str) -> DemoPush:
    """Add a commit to the demo repository at ``repo`` (created if missing)."""
    added: list[str] = []
    if not (repo / ".git").is_dir():
        repo.mkdir(parents=True, exist_ok=True)
        _git(repo, "init", "-q", "--template=")
        _git(repo, "symbolic-ref", "HEAD", "refs/heads/main")
    before = _git(repo, "rev-parse", "--verify", "-q", "HEAD^{commit}") if _has_head(repo) else ""
    pipeline_file = repo / "serverless-pipeline.yaml"
    if not pipeline_file.exists():
        added.append(pipeline_file.name)
    if pipeline_file.name in added or pipeline_file.read_text(encoding="utf-8") != pipeline:
        pipeline_file.write_text(pipeline, encoding="utf-8")
    readme = repo / "README.md"
    if not readme.exists():
        added.append(readme.name)
        readme.write_text("# scd demo\n\nEach `scd demo` adds a line below.\n\n", encoding="utf-8")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    with readme.open("a", encoding="utf-8") as out:
        out.write(f"- demo run at {stamp} UTC\n")
    _git(repo, "add", "-A")
    message = f"scd demo at {stamp} UTC"
    _git(repo, "commit", "-q", "-m", message)
    after = _git(repo, "rev-parse", "HEAD")
    modified = sorted({"README.md", pipeline_file.name} - set(added))
    return DemoPush(repo, before or _ZERO, after, message, modified, added)


def _has_head(repo: Path) -> bool:
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "-q", "HEAD"],
        cwd=repo,
        capture_output=True,
        check=False,
        timeout=60,
    )
    return done.returncode == 0


def push_webhook(push: DemoPush, secret: str) -> tuple[bytes, dict[str, str]]:
    """The GitHub ``push`` delivery of ``push``: (body, headers), signed with ``secret``."""
    commit = {
        "id": push.after,
        "message": push.message,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "author": {"name": "scd demo", "email": "demo@scd.invalid", "username": "scd-demo"},
        "added": push.added,
        "modified": push.modified,
        "removed": [],
    }
    payload: dict[str, Any] = {
        "ref": "refs/heads/main",
        "before": push.before,
        "after": push.after,
        "created": push.before == _ZERO,
        "deleted": False,
        "forced": False,
        "commits": [commit],
        "head_commit": commit,
        "repository": {
            "name": "demo",
            "full_name": "local/demo",
            "private": True,
            "owner": {"name": "local", "login": "local"},
            "html_url": push.repo.as_uri(),
            "clone_url": push.repo.as_uri(),
            "default_branch": "main",
        },
        "pusher": {"name": "scd-demo", "email": "demo@scd.invalid"},
        "sender": {"login": "scd-demo"},
    }
    body = json.dumps(payload).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": str(uuid.uuid4()),
        "x-hub-signature-256": f"sha256={signature}",
        "user-agent": "scd-demo",
    }
    return body, headers


@dataclass
class RunFollower:
    """Reports a run's steps as they end, from successive ``GET /api/v1/runs/{id}`` answers.

    ``fetch_log(step_id)`` returns a step's log text; ``say(text)`` prints.
    """

    fetch_log: Callable[[str], str]
    say: Callable[[str], None]
    reported: set[str] = field(default_factory=set)

    def update(self, run: dict[str, Any]) -> bool:
        """Report newly ended steps of ``run``; True once the run is final."""
        final = run["status"] in FINAL_STATUSES
        for step in run.get("steps", []):
            ended = step["status"] in FINAL_STATUSES or (final and step["status"] != "pending")
            if step["id"] in self.reported or not ended:
                continue
            self.reported.add(step["id"])
            name = step.get("name") or step["id"]
            self.say(f"  step {step['id']} ({name}): {step['status']}")
            for line in self.fetch_log(step["id"]).splitlines():
                self.say(f"    | {line}")
        return final
