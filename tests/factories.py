"""Factories for the tests and the benchmarks: small valid objects with defaults that can be
overridden field by field, so a test states only what it is about.

Import by name (``from factories import make_app``): ``tests/`` is on ``sys.path``
under pytest, and benchmarks put it there.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from scd_trigger_spec import App

__all__ = [
    "APP_REPO",
    "APP_SECRET",
    "PIPELINE_PATH",
    "app_spec",
    "commit",
    "make_app",
    "make_repo",
    "pipeline_repo",
    "pipeline_yaml",
    "scd_yaml",
    "token_entry",
]


# apps and pipelines

APP_REPO = "https://github.com/acme/web.git"
APP_SECRET = "s3cret-for-tests"
PIPELINE_PATH = "serverless-pipeline.yaml"
_GIT_IDENTITY = ("-c", "user.name=scd tests", "-c", "user.email=tests@scd.invalid")


def app_spec(name: str = "web", **fields: Any) -> dict[str, Any]:
    """An app as scd.yaml lists it: ``name``, ``repo`` (APP_REPO) and ``secret``
    (APP_SECRET), then ``fields`` replacing or adding keys. Not validated, so a
    test can build an invalid one; ``secret=None, insecure_no_secret=True`` opts
    out of the secret. The apps API stores the same mapping without ``name``."""
    return {"name": name, "repo": APP_REPO, "secret": APP_SECRET, **fields}


def make_app(name: str = "web", **fields: Any) -> App:
    """``app_spec(name, **fields)`` validated into an App (pydantic errors propagate)."""
    return App.model_validate(app_spec(name, **fields))


def token_entry(name: str, token: str, *scopes: str) -> dict[str, Any]:
    """One ``tokens`` entry of scd.yaml for the bearer ``token`` (kept as its SHA-256)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    return {"name": name, "sha256": digest, "scopes": list(scopes or ("read",))}


def scd_yaml(*apps: Mapping[str, Any], tokens: Iterable[Mapping[str, Any]] = ()) -> str:
    """scd.yaml text listing ``apps`` (e.g. ``app_spec(...)``) and ``tokens``
    (``token_entry(...)``); ``${env:NAME}`` strings stay as they are."""
    doc = {"apps": [dict(app) for app in apps], "tokens": [dict(t) for t in tokens]}
    return yaml.safe_dump(doc, sort_keys=False)


def pipeline_yaml(*steps: str | Mapping[str, Any], **top: Any) -> str:
    """A pipeline spec's text: each ``str`` step is a ``run:`` command, each mapping
    a step as written; ``top`` adds top-level keys (``name``, ``env``...)."""
    listed = [{"run": step} if isinstance(step, str) else dict(step) for step in steps]
    return yaml.safe_dump({**top, "steps": listed}, sort_keys=False)


def make_repo(path: Path, files: Mapping[str, str]) -> tuple[Path, str]:
    """A git repository at ``path`` (created) on branch ``main`` with one commit of
    ``files`` (relative path → text); ``(path, head sha)``. Needs ``git`` on PATH."""
    path.mkdir(parents=True)
    _git(path, "init", "--quiet", "--template=")
    _git(path, "symbolic-ref", "HEAD", "refs/heads/main")
    return path, commit(path, files, "first")


def commit(repo: Path, files: Mapping[str, str], message: str) -> str:
    """Write ``files`` into ``repo`` and commit them (empty commits allowed); the sha."""
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "--allow-empty", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def pipeline_repo(
    path: Path, pipeline: str, files: Mapping[str, str] | None = None
) -> tuple[Path, str]:
    """``make_repo`` with ``pipeline`` at PIPELINE_PATH beside ``files``."""
    return make_repo(path, {PIPELINE_PATH: pipeline, **(files or {})})


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *_GIT_IDENTITY, *args], cwd=repo, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()
