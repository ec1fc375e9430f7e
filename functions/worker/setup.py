"""The set-up step of a run: check the code out, then load and validate its pipeline.

Contract: :func:`prepare` either returns the validated pipeline or raises
:class:`SetupFailed` after writing the reason to the set-up log: each spec
problem as ``file:line:column: severity: message`` (the file named as in the
job, relative to the repository), or git's masked message. It never runs user
code. The set-up step is recorded under the key ``setup`` with index ``-1``, so
that the pipeline's own steps keep their indexes from 0; a step may therefore
not take the id ``setup`` (reported as a problem at that step).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from scd_core.errors import Problem, ScdError, SpecError
from scd_core.logs import LogWriter
from scd_core.models import Run

from functions.worker.checkout import CheckoutError, checkout

if TYPE_CHECKING:
    from scd_engine.spec import Pipeline
    from scd_trigger_spec import App

__all__ = ["SETUP_INDEX", "SETUP_KEY", "Checkout", "SetupFailed", "Target", "prepare", "target_of"]

SETUP_KEY = "setup"
SETUP_INDEX = -1  # pipeline steps are indexed from 0; set-up sorts before them


class SetupFailed(ScdError):
    """The set-up step failed; ``str(exc)`` is the run's short message."""

    code = "setup_failed"


@dataclass(frozen=True)
class Checkout:
    """Where to put the code and the cache that speeds it up."""

    workspace: Path
    cache_dir: Path
    token: str | None


@dataclass(frozen=True)
class Target:
    """What a run checks out and runs: never taken from a job's request."""

    clone_url: str | None
    ref: str | None
    commit: str | None
    pipeline: str


def target_of(run: Run, app: App | None) -> Target:
    """The checkout target of ``run``: the app's repository (its configuration says what
    may be cloned and run; the run's recorded event only when the worker knows no such
    app, as for ``scd run``), the ref and commit of the run's event, the run's pipeline."""
    clone_url = app.repo if app is not None else run.event.clone_url
    return Target(clone_url, run.event.ref, run.event.commit, run.pipeline)


def prepare(
    job: Target, where: Checkout, writer: LogWriter, cancel: threading.Event
) -> tuple[Pipeline, str]:
    """Check out ``job``'s commit and load its pipeline; (pipeline, checked-out sha)."""
    if not job.clone_url:
        writer.line("error: the job names no repository to clone")
        raise SetupFailed("the job names no repository to clone")
    try:
        sha = checkout(
            job.clone_url,
            commit=job.commit,
            ref=job.ref,
            dest=where.workspace,
            cache_dir=where.cache_dir,
            token=where.token,
            log=writer.line,
            cancel=cancel,
        )
    except (CheckoutError, ValueError) as exc:
        writer.line(f"error: {exc}")
        raise SetupFailed(f"checkout failed: {exc}") from exc
    return _load(job.pipeline, where.workspace, writer), sha


def _load(name: str, workspace: Path, writer: LogWriter) -> Pipeline:
    from scd_engine.spec import load_pipeline

    path = (workspace / name).resolve()
    if not path.is_relative_to(workspace.resolve()):
        writer.line(f"error: the pipeline path {name!r} leaves the repository")
        raise SetupFailed(f"pipeline path {name!r} leaves the repository")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        writer.line(f"error: pipeline file {name} not found in the repository")
        raise SetupFailed(f"pipeline file {name} not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        writer.line(f"error: cannot read pipeline file {name}: {type(exc).__name__}")
        raise SetupFailed(f"cannot read pipeline file {name}") from exc
    writer.line(f"Loading pipeline {name}")
    try:
        pipeline = load_pipeline(name, text=text)
    except SpecError as exc:
        for problem in exc.problems:
            writer.line(str(problem))
        count = len(exc.problems)
        raise SetupFailed(f"invalid pipeline {name}: {count} problem{'s' * (count != 1)}") from exc
    _reserved_ids(pipeline, name, writer)
    count = len(pipeline.all_steps())
    tasks = f" in {len(pipeline.tasks)} tasks" if pipeline.tasks else ""
    writer.line(f"Pipeline {pipeline.name or name}: {count} step{'s' * (count != 1)}{tasks}")
    return pipeline


def _reserved_ids(pipeline: Pipeline, name: str, writer: LogWriter) -> None:
    """``SetupFailed`` if a step's id is the set-up step's key (their logs would collide)."""
    steps = [
        (i, step) for task in pipeline.task_specs().values() for i, step in enumerate(task.steps)
    ]
    for index, step in steps:
        if step.key(index) == SETUP_KEY:
            where = step.location
            line, column = (where.line, where.column) if where is not None else (1, 1)
            problem = Problem(name, line, column, f"step id {SETUP_KEY!r} is reserved for scd")
            writer.line(str(problem))
            raise SetupFailed(f"invalid pipeline {name}: 1 problem")
