"""Region routing: which worker (FC region and function) runs an app's jobs.

Workers in mainland China regions often cannot reach GitHub, so an app may name
its worker (``App.worker``: ``{region: ap-southeast-1, function: scd-worker}``)
and scd.yaml's ``workers:`` rules choose one for the others, by provider or by
repository pattern::

    workers:
      - repo: 'github.com/**'          # host/owner/name, GitHub's filter patterns
        region: ap-southeast-1
      - provider: gitee
        region: cn-hangzhou
        function: scd-worker-gitee

``route(app, rules)`` is the app's own worker if it names one, else the first
rule matching both of its conditions (a rule needs at least one), else None:
the trigger's own region and worker function. Pure; rules validate when built.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from scd_trigger_spec.patterns import compile_pattern
from scd_trigger_spec.spec import App, ProviderName, WorkerTarget

__all__ = ["WorkerRule", "WorkerTarget", "repo_path", "route"]

_HOSTS = {"github.com": "github", "gitee.com": "gitee", "codeup.aliyun.com": "codeup"}


class WorkerRule(BaseModel):
    """One ``workers:`` rule: the apps it matches and the worker they get."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: ProviderName | None = None
    repo: str | None = None
    region: str
    function: str | None = None

    @field_validator("repo")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            compile_pattern(value)  # a bad pattern fails here, with its message
        return value

    @model_validator(mode="after")
    def _has_a_condition(self) -> WorkerRule:
        if self.provider is None and self.repo is None:
            raise ValueError("a workers rule needs 'provider' or 'repo' (or both)")
        WorkerTarget(region=self.region, function=self.function)  # same checks as an app's
        return self

    @property
    def target(self) -> WorkerTarget:
        return WorkerTarget(region=self.region, function=self.function)

    def matches(self, app: App) -> bool:
        """Whether ``app`` meets every condition of this rule."""
        if self.provider is not None and provider_of(app) != self.provider:
            return False
        return self.repo is None or bool(compile_pattern(self.repo).fullmatch(repo_path(app.repo)))


def route(app: App, rules: Sequence[WorkerRule] = ()) -> WorkerTarget | None:
    """The worker for ``app``'s jobs (see the module doc); None: the trigger's own."""
    if app.worker is not None:
        return app.worker
    for rule in rules:
        if rule.matches(app):
            return rule.target
    return None


def repo_path(repo: str) -> str:
    """``host/owner/name`` of a clone URL (``https://``, ``ssh://`` or ``git@host:``),
    without ``.git``; a local path as it is."""
    if "://" in repo:
        try:
            parts = urlsplit(repo)
        except ValueError:
            return repo
        text = f"{parts.hostname or ''}{parts.path}"
    elif re.match(r"[^/@]+@[^:/]+:", repo):
        host, _, path = repo.split("@", 1)[1].partition(":")
        text = f"{host}/{path}"
    else:
        text = repo
    return text.rstrip("/").removesuffix(".git")


def provider_of(app: App) -> str:
    """The app's provider: named, or known from its repository's host."""
    if app.provider is not None:
        return app.provider
    host = repo_path(app.repo).split("/", 1)[0]
    return _HOSTS.get(host, "gitlab" if "gitlab" in host else "git")
