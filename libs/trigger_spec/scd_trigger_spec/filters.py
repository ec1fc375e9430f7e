"""Matching a normalised event against an app's trigger spec.

Contract: ``decide`` returns ``None`` when the event should start a run, else the reason it
is ignored, naming the filter and the value. Rules (GitHub's, unless the filter's dialect is
serverless-cd, see ``serverless_cd``):

- a push of a branch is matched against ``branches``/``branches-ignore`` and a push of a tag
  against ``tags``/``tags-ignore``; when only branch filters are given tag pushes are ignored,
  and vice versa; with neither, every push matches;
- ``paths``/``paths-ignore`` apply to the changed files of branch pushes and pull requests,
  never to tag pushes; when the payload cannot tell every changed file (no commit list,
  truncated lists, pull requests) they are not evaluated and the event runs, as GitHub runs a
  workflow whose diff it could not compute;
- deletions are ignored unless ``push.deletions``; ``[skip ci]``, ``[ci skip]``, ``[no ci]``,
  ``[skip scd]`` and ``[scd skip]`` (any case) in the head commit message ignore a push
  (pull requests are not affected: their payloads do not carry the head commit's message);
- pull requests: the action must be in ``types``; ``branches``/``branches-ignore`` match the
  target branch, ``sources``/``sources-ignore`` the source branch.
"""

from __future__ import annotations

from collections.abc import Sequence

from scd_core.models import Event

from scd_trigger_spec.globs import glob_list_matches
from scd_trigger_spec.patterns import skip_for_paths, skip_for_paths_ignore
from scd_trigger_spec.spec import PullRequestFilter, PullRequestRule, PushFilter, TriggerSpec

__all__ = ["SKIP_MARKERS", "decide"]

SKIP_MARKERS = ("[skip ci]", "[ci skip]", "[no ci]", "[skip scd]", "[scd skip]")
_RULE_ORDER = ("exclude", "precise", "prefix", "include")


def _show(patterns: Sequence[str]) -> str:
    return "[" + ", ".join(patterns) + "]"


def decide(spec: TriggerSpec, event: Event, files_complete: bool) -> str | None:
    """``None`` to run, or why ``event`` is ignored under ``spec``."""
    if event.event_name in ("push", "tag"):
        return _push(spec.push, event, files_complete)
    if event.event_name == "pull_request":
        return _pull_request(spec.pull_request, event, files_complete)
    return None


def _skip_marker(message: str | None) -> str | None:
    lowered = (message or "").lower()
    return next((m for m in SKIP_MARKERS if m in lowered), None)


def _include_exclude(
    name: str, label: str, include: list[str] | None, exclude: list[str] | None, field: str
) -> str | None:
    if include is not None and skip_for_paths(include, [name]):
        return f"{label} '{name}' does not match {field} {_show(include)}"
    if exclude is not None and skip_for_paths_ignore(exclude, [name]):
        return f"{label} '{name}' matches {field}-ignore {_show(exclude)}"
    return None


def _paths(f: PushFilter | PullRequestFilter, files: list[str], where: str) -> str | None:
    if f.paths is not None and skip_for_paths(f.paths, files):
        return f"no changed file matches {where}.paths {_show(f.paths)}"
    if f.paths_ignore is not None and skip_for_paths_ignore(f.paths_ignore, files):
        return f"every changed file matches {where}.paths-ignore {_show(f.paths_ignore)}"
    return None


def _push_ref(f: PushFilter, event: Event) -> str | None:
    is_tag = event.tag is not None
    label, name = ("tag", event.tag or "") if is_tag else ("branch", event.branch or "")
    own, own_ignore = (f.tags, f.tags_ignore) if is_tag else (f.branches, f.branches_ignore)
    field = "push.tags" if is_tag else "push.branches"
    if f.dialect == "serverless-cd":
        if not own:
            return f"{label} push '{name}': no {field} rules configured"
        if not glob_list_matches(own, name):
            return f"{label} '{name}' does not match {field} {_show(own)}"
        return None
    other, other_ignore = (f.branches, f.branches_ignore) if is_tag else (f.tags, f.tags_ignore)
    if own is None and own_ignore is None:
        if other is not None or other_ignore is not None:
            other_field = "push.branches" if is_tag else "push.tags"
            return f"{label} push '{name}' ignored: only {other_field} filters are set"
        return None
    return _include_exclude(name, label, own, own_ignore, field)


def _push(f: PushFilter | None, event: Event, files_complete: bool) -> str | None:
    kind = "tag" if event.tag is not None else "branch"
    name = event.tag or event.branch
    if f is None:
        return f"{kind} push '{name}' ignored: the trigger spec has no push"
    if event.action == "deleted" and not f.deletions:
        return f"{kind} '{name}' was deleted; set push.deletions: true to run on deletions"
    marker = _skip_marker(event.message)
    if marker is not None:
        return f"head commit message contains '{marker}'"
    reason = _push_ref(f, event)
    if reason is None and kind == "branch" and files_complete:
        reason = _paths(f, event.changed_files, "push")
    return reason


def _rule_matches(rule: PullRequestRule, target: str, source: str) -> bool:
    def globs(value: str | None) -> list[str]:
        if value is None:
            return ["*", "**"]
        return [f"{value}*", f"{value}/**"] if rule.kind == "prefix" else [value]

    return glob_list_matches(globs(rule.target), target) and glob_list_matches(
        globs(rule.source), source
    )


def _serverless_cd_rules(f: PullRequestFilter, target: str, source: str) -> str | None:
    if not f.rules:
        return "pull request ignored: no pull_request.branches rules configured"
    # serverless-cd's priority: exclude, then precise, prefix, include; first hit decides
    for rule in sorted(f.rules, key=lambda r: _RULE_ORDER.index(r.kind)):
        if _rule_matches(rule, target, source):
            if rule.kind == "exclude":
                shown = f"{{target: {rule.target}, source: {rule.source or '*'}}}"
                return f"pull request '{source}' -> '{target}' matches exclude rule {shown}"
            return None
    return f"pull request '{source}' -> '{target}' matches no pull_request.branches rule"


def _pull_request(f: PullRequestFilter | None, event: Event, files_complete: bool) -> str | None:
    if f is None:
        return "pull request ignored: the trigger spec has no pull_request"
    if event.action not in f.types:
        return f"pull_request action '{event.action}' is not in pull_request.types {_show(f.types)}"
    target, source = event.target_branch or "", event.source_branch or ""
    if f.dialect == "serverless-cd":
        return _serverless_cd_rules(f, target, source)
    reason = _include_exclude(
        target, "target branch", f.branches, f.branches_ignore, "pull_request.branches"
    ) or _include_exclude(
        source, "source branch", f.sources, f.sources_ignore, "pull_request.sources"
    )
    if reason is None and files_complete:
        reason = _paths(f, event.changed_files, "pull_request")
    return reason
