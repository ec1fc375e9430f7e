"""Git providers: GitHub, Gitee, GitLab and Codeup, each a ``GitProvider``."""

from __future__ import annotations

from scd_trigger_spec.providers.base import GitProvider, Parsed
from scd_trigger_spec.providers.codeup import Codeup
from scd_trigger_spec.providers.gitee import Gitee
from scd_trigger_spec.providers.github import GitHub
from scd_trigger_spec.providers.gitlab import GitLab

__all__ = ["PROVIDERS", "Codeup", "GitHub", "GitLab", "GitProvider", "Gitee", "Parsed"]

PROVIDERS: dict[str, GitProvider] = {
    "github": GitHub(),
    "gitee": Gitee(),
    "gitlab": GitLab(),
    "codeup": Codeup(),
}
