"""Factories for the tests and the benchmarks: small valid objects with defaults that can be
overridden field by field, so a test states only what it is about. Models (an event, a run,
a job, a step, a task) first, then apps and pipelines.

Import by name (``from factories import make_run``): ``tests/`` is on ``sys.path`` under
pytest, and benchmarks put it there. Two calls with the same arguments give equal objects.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from scd_core.models import DEFAULT_TASK, Event, Job, Run, StepState, TaskState
from scd_trigger_spec import App

__all__ = [
    "APP_REPO",
    "APP_SECRET",
    "BASE",
    "PIPELINE_PATH",
    "app_spec",
    "commit",
    "make_app",
    "make_event",
    "make_job",
    "make_repo",
    "make_run",
    "make_step",
    "make_task",
    "pipeline_repo",
    "pipeline_yaml",
    "scd_yaml",
    "token_entry",
]

BASE = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
"""The default ``created_at`` of a run: fixed, aware, with microseconds."""


def make_event(n: int | str = 1, **fields: Any) -> Event:
    """A GitHub push to main, delivery ``delivery-<n>``, payload ``{"n": n}``."""
    values: dict[str, Any] = {
        "provider": "github",
        "event_name": "push",
        "ref": "refs/heads/main",
        "branch": "main",
        "commit": "a" * 40,
        "delivery_id": f"delivery-{n}",
        "payload": {"n": n},
    }
    return Event.model_validate({**values, **fields})


def make_run(
    n: int | str = 1,
    *,
    key: int | str | None = None,
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> Run:
    """Run ``run-<n>`` of app ``web``, queued, created at ``BASE``, with ``make_event(n)``.

    ``key`` gives it another run's dedup key (``github:delivery-<key>``); ``payload``
    replaces the event's payload; other keywords set fields (``event`` included).
    """
    event = make_event(n) if payload is None else make_event(n, payload=payload)
    values: dict[str, Any] = {
        "id": f"run-{n}",
        "app": "web",
        "dedup_key": f"github:delivery-{n if key is None else key}",
        "event": event,
        "created_at": BASE,
    }
    return Run.model_validate({**values, **fields})


def make_job(run: Run | None = None, **fields: Any) -> Job:
    """The job of ``run`` (``make_run()`` by default): its ids and checkout target."""
    run = make_run() if run is None else run
    known = {
        "id": run.id,
        "app": run.app,
        "event": run.event,
        "clone_url": run.event.clone_url,
        "ref": run.event.ref,
        "commit": run.event.commit,
        "pipeline": run.pipeline,
        "attempt": run.attempt,
    }
    # only what Job declares: the factory follows the model as it slims down
    values = {name: value for name, value in known.items() if name in Job.model_fields}
    return Job.model_validate({**values, **fields})


def make_step(step_id: str = "build", *, index: int = 0, **fields: Any) -> StepState:
    """Step ``step_id`` of the default task, at ``index``, pending."""
    return StepState.model_validate({"id": step_id, "index": index, **fields})


def make_task(task_id: str = DEFAULT_TASK, **fields: Any) -> TaskState:
    """Task instance ``task_id`` (its task id too), queued."""
    return TaskState.model_validate({"id": task_id, "task": task_id, **fields})


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
