"""The App spec (one entry of ``scd.yaml`` ``apps:``) and its trigger spec.

Contract: models validate at load, so a bad pattern, a bad cron or an app without a secret
is a configuration error naming the app and the field, never a surprise at delivery time.

Choices, where GitHub Actions and serverless-cd leave room:

- ``App.trigger`` omitted means every push (branches and tags) triggers, pull requests do
  not, manual runs are allowed. A written ``trigger:`` lists the events it wants, as
  GitHub's ``on:`` does: ``trigger: {pull_request: {}}`` ignores pushes. ``push:`` with no
  value (YAML null) means "every push".
- ``push.deletions: true`` lets branch and tag deletions through (ignored by default).
- ``pull_request.types`` defaults to ``opened, synchronize, reopened`` (GitHub's default);
  ``merged`` is a closed pull request that was merged, ``closed`` one that was not
  (serverless-cd's meaning). ``sources``/``sources-ignore`` filter the source branch.
- ``dialect: serverless-cd`` marks filters converted from serverless-cd's own form (see
  ``serverless_cd``): their branch and tag lists are micromatch globs with micromatch's list
  rule, and a missing list matches nothing, as there.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from scd_core.models import new_dict, new_list

from scd_trigger_spec.cron import parse_cron
from scd_trigger_spec.globs import glob_regex
from scd_trigger_spec.patterns import compile_pattern
from scd_trigger_spec.reporting import Callback, Notify

__all__ = [
    "PR_TYPES",
    "App",
    "Dialect",
    "ForkPolicy",
    "ProviderName",
    "PullRequestFilter",
    "PullRequestRule",
    "PushFilter",
    "Retry",
    "Schedule",
    "TriggerSpec",
    "WorkerTarget",
    "lone_surrogate",
]

ProviderName = Literal["github", "gitee", "gitlab", "codeup"]
Dialect = Literal["github", "serverless-cd"]
# GitHub's pull_request activity types, plus serverless-cd's "merged" and GitLab's approvals
_PR_TYPE_WORDS = """opened reopened synchronize closed merged edited ready_for_review
    converted_to_draft
    assigned unassigned labeled unlabeled review_requested review_request_removed locked
    unlocked approved unapproved auto_merge_enabled auto_merge_disabled milestoned demilestoned
    enqueued dequeued"""
PR_TYPES: frozenset[str] = frozenset(_PR_TYPE_WORDS.split())
_APP_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_PATTERN_LISTS = (
    "branches",
    "branches_ignore",
    "tags",
    "tags_ignore",
    "sources",
    "sources_ignore",
    "paths",
    "paths_ignore",
)


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (value or key) in ``value`` holding a lone
    surrogate, or None. Such a string cannot be encoded as UTF-8: pydantic-core fails
    with ``UnicodeEncodeError`` on any error message quoting it, and an HMAC on it."""
    if isinstance(value, str):
        return path or "value" if _SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{_printable(key)}" if path else _printable(key)
            if isinstance(key, str) and _SURROGATE.search(key):
                return here
            found = lone_surrogate(item, here)
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = lone_surrogate(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _printable(key: Any) -> str:
    return str(key).encode("utf-8", "backslashreplace").decode("utf-8")


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _check_patterns(field: str, patterns: list[str], dialect: str) -> None:
    compile_one = glob_regex if dialect == "serverless-cd" and "path" not in field else None
    for pattern in patterns:
        try:
            if compile_one is not None:
                compile_one(pattern.removeprefix("!"))
            else:
                compile_pattern(pattern)
        except ValueError as exc:
            raise ValueError(f"{field.replace('_', '-')}: {exc}") from exc


class _Filter(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    dialect: Dialect = "github"
    paths: list[str] | None = None
    paths_ignore: list[str] | None = Field(default=None, alias="paths-ignore")

    @field_validator(*_PATTERN_LISTS, mode="before", check_fields=False)
    @classmethod
    def _one_pattern_is_a_list(cls, value: Any) -> Any:
        return _as_list(value)

    @model_validator(mode="after")
    def _valid_patterns(self) -> _Filter:
        for field in _PATTERN_LISTS:
            patterns = getattr(self, field, None)
            if patterns is not None:
                _check_patterns(field, patterns, self.dialect)
        for positive in ("branches", "tags", "sources", "paths"):
            if getattr(self, positive, None) and getattr(self, f"{positive}_ignore", None):
                raise ValueError(
                    f"{positive} and {positive}-ignore cannot both be set for one event "
                    f"(use '!' patterns in {positive} instead)"
                )
        return self


class PushFilter(_Filter):
    """``push`` filters: GitHub's rules (branch filters ignore tags and vice versa)."""

    branches: list[str] | None = None
    branches_ignore: list[str] | None = Field(default=None, alias="branches-ignore")
    tags: list[str] | None = None
    tags_ignore: list[str] | None = Field(default=None, alias="tags-ignore")
    deletions: bool = False


class PullRequestRule(BaseModel):
    """One serverless-cd pull-request rule: globs for the target and (optional) source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["exclude", "precise", "prefix", "include"]
    target: str
    source: str | None = None

    @field_validator("target", "source")
    @classmethod
    def _valid_glob(cls, value: str | None) -> str | None:
        if value is not None:
            glob_regex(value)
        return value


class PullRequestFilter(_Filter):
    """``pull_request`` filters; ``branches`` apply to the target branch."""

    types: list[str] = Field(default_factory=lambda: ["opened", "synchronize", "reopened"])
    branches: list[str] | None = None
    branches_ignore: list[str] | None = Field(default=None, alias="branches-ignore")
    sources: list[str] | None = None
    sources_ignore: list[str] | None = Field(default=None, alias="sources-ignore")
    rules: list[PullRequestRule] | None = None

    @field_validator("types", mode="before")
    @classmethod
    def _known_types(cls, value: Any) -> Any:
        value = _as_list(value)
        if isinstance(value, list):
            unknown = [t for t in value if isinstance(t, str) and t not in PR_TYPES]
            if unknown:
                raise ValueError(f"unknown pull_request types {unknown}")
        return value


class Schedule(BaseModel):
    """One FC-format timer: ``cron`` is checked at load (see ``cron.parse_cron``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cron: str
    name: str | None = None
    ref: str | None = None  # None: the repository's default branch
    inputs: dict[str, str] = Field(default_factory=new_dict)

    @model_validator(mode="before")
    @classmethod
    def _bare_string(cls, value: Any) -> Any:
        return {"cron": value} if isinstance(value, str) else value

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        parse_cron(value)
        return value


class TriggerSpec(BaseModel):
    """Which events start a run. ``None`` for ``push``/``pull_request`` means "not wanted"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    push: PushFilter | None = None
    pull_request: PullRequestFilter | None = None
    schedule: list[Schedule] = Field(default_factory=new_list)
    manual: bool = True

    @model_validator(mode="before")
    @classmethod
    def _null_means_enabled(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: ({} if v is None and k in ("push", "pull_request") else v)
                for k, v in value.items()
            }
        return value


class ForkPolicy(BaseModel):
    """What a pull request from a fork may have: its code is anyone's.

    By default its runs get no secrets (they read empty; ``sts`` and the platform's
    credentials too), as GitHub Actions does. ``secrets: true`` trusts forks;
    ``approve: true`` holds each fork's run until a person with the ``trigger`` scope
    approves it, and an approved run gets the app's secrets.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    secrets: bool = False
    approve: bool = False


class Retry(BaseModel):
    """When a run's task is run again as a new attempt: ``max`` more attempts, for the
    causes in ``on``. ``worker-lost`` is a worker that died mid-task (its process killed,
    its machine gone); a failing step is never retried. The default retries nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max: int = Field(default=0, ge=0, le=10)
    on: list[Literal["worker-lost"]] = Field(default_factory=new_list)

    def allows(self, cause: str, attempt: int) -> bool:
        """Whether a task whose attempt ``attempt`` ended by ``cause`` runs again."""
        return cause in self.on and attempt <= self.max


def _default_trigger() -> TriggerSpec:
    return TriggerSpec(push=PushFilter())


_REGION = re.compile(r"[a-z]{2}-[a-z0-9-]{1,40}")
_FUNCTION = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")  # FC's function name rule


class WorkerTarget(BaseModel):
    """Where an app's jobs run: an FC region and, optionally, the worker function there
    (None: the trigger's worker function name). See ``scd_trigger_spec.routing``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str
    function: str | None = None

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.fullmatch(value):
            raise ValueError("region must be an FC region id such as ap-southeast-1")
        return value

    @field_validator("function")
    @classmethod
    def _function(cls, value: str | None) -> str | None:
        if value is not None and not _FUNCTION.fullmatch(value):
            raise ValueError("function must be an FC function name ([A-Za-z_][A-Za-z0-9_-]*)")
        return value


class App(BaseModel):
    """One app of ``scd.yaml``: where its webhooks come from and what they trigger."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    repo: str
    provider: ProviderName | None = None
    secret: SecretStr | None = None
    insecure_no_secret: bool = False
    allow_sha1: bool = False
    pipeline: str = "serverless-pipeline.yaml"
    trigger: TriggerSpec = Field(default_factory=_default_trigger)
    gitee_timestamp_window_s: int = Field(default=3600, gt=0)
    # Resolved by the worker where it runs, never carried in a job or run: NAME -> value
    # (usually ``${env:VAR}``), the token for cloning a private repository, and whether
    # steps may see the platform's credentials (ALIBABA_CLOUD_*, FC_*).
    secrets: dict[str, SecretStr] = Field(default_factory=new_dict)
    checkout_token: SecretStr | None = None
    allow_platform_env: bool = False
    forks: ForkPolicy = Field(default_factory=ForkPolicy)
    retry: Retry = Field(default_factory=Retry)
    # Reporting back (issue 13): commit statuses go out when ``secrets`` holds a
    # ``status_token``, to ``status_api`` (None: the provider's public API).
    callbacks: list[Callback] = Field(default_factory=new_list)
    notify: list[Notify] = Field(default_factory=new_list)
    badge: bool = True
    status_api: str | None = None
    # Which worker runs this app's jobs (None: scd.yaml's workers rules, then the trigger's).
    worker: WorkerTarget | None = None

    @model_validator(mode="before")
    @classmethod
    def _serverless_cd_form(cls, value: Any) -> Any:
        from scd_trigger_spec.serverless_cd import convert_app_fields

        # Before anything quotes a value in a message (see lone_surrogate).
        where = lone_surrogate(value)
        if where is not None:
            raise ValueError(f"{where}: strings must be valid Unicode (no lone surrogates)")
        return convert_app_fields(value) if isinstance(value, dict) else value

    @field_validator("name")
    @classmethod
    def _url_safe_name(cls, value: str) -> str:
        if not _APP_NAME.fullmatch(value):
            raise ValueError(f"app name '{value}' must match [a-z0-9][a-z0-9-_]*")
        return value

    @field_validator("repo")
    @classmethod
    def _git_repository(cls, value: str) -> str:
        from scd_trigger_spec.repourl import repo_url_problem

        problem = repo_url_problem(value)
        if problem is not None:
            raise ValueError(f"repo {problem}")
        return value

    @model_validator(mode="after")
    def _secret_or_opt_out(self) -> App:
        has_secret = self.secret is not None and self.secret.get_secret_value() != ""
        if not has_secret and not self.insecure_no_secret:
            raise ValueError(
                f"app '{self.name}' has no webhook secret: set 'secret' "
                "(e.g. ${env:NAME}) or 'insecure_no_secret: true'"
            )
        return self
