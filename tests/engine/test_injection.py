"""Untrusted event text in run: or script: is rejected; the same value through env passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scd_core.errors import SpecError
from scd_engine.spec import lint_pipeline, load_pipeline, untrusted_paths, untrusted_reads

# Values an attacker would put in a commit message or branch name. The linter
# judges the spec, not the values; they document what the rule protects against.
HOSTILE = ["$(touch /tmp/pwned)", "`touch /tmp/pwned`", '"; id; "']


def errors(text: str) -> list[str]:
    return [p.message for p in lint_pipeline("p.yaml", text) if p.severity == "error"]


def test_run_reading_git_message_is_rejected_with_the_safe_form() -> None:
    with pytest.raises(SpecError) as caught:
        load_pipeline("p.yaml", 'steps:\n  - run: echo "${{ git.message }}"\n')
    problem = caught.value.problems[0]
    assert (problem.line, problem.column) == (2, 16)
    assert problem.message.startswith(
        "run: uses untrusted value git.message in ${{ }}; pass it through env instead: "
        'env: {MSG: ${{ git.message }}} and use "$MSG" in the script'
    )


def test_the_same_value_through_env_passes_validation() -> None:
    text = 'steps:\n  - run: echo "$MSG"\n    env: {MSG: "${{ git.message }}"}\n'
    pipeline = load_pipeline("p.yaml", text)
    assert pipeline.steps[0].env == {"MSG": "${{ git.message }}"}


@pytest.mark.parametrize(
    "expression",
    [
        "event.head_commit.message",
        "event['head_commit']['message']",
        "event.commits[0].message",
        "event.commits.*.message",
        "toJSON(event.pull_request)",
        "format('{0}', git.message)",
        "toJSON(event)",
        "event.commits",
        "event.*.body",
        "git.pusher.name",
        "git.branch",
        "git.source_branch",
        "git.tag",
        "Event.Pull_Request.Title",
        "event.pull_request.labels[0].name",
        "event.object_attributes.title",
        "event.object_attributes.description",
        "join(event.commits.*.author.email, ',')",
    ],
)
def test_every_spelling_of_an_untrusted_read_in_run_is_caught(expression: str) -> None:
    found = errors(f"steps:\n  - run: echo ${{{{ {expression} }}}}\n")
    assert len(found) == 1
    assert "uses untrusted value" in found[0]


def test_untrusted_reads_in_script_are_caught_with_a_python_safe_form() -> None:
    found = errors("steps:\n  - script: print('${{ event.pull_request.body }}')\n")
    assert len(found) == 1
    assert found[0].startswith("script: uses untrusted value event.pull_request.body")
    assert "os.environ['BODY']" in found[0]


def test_an_enclosing_object_names_the_untrusted_field_it_holds() -> None:
    found = errors("steps:\n  - run: echo '${{ toJSON(event.head_commit) }}'\n")
    assert "event.head_commit (it holds event.head_commit.message)" in found[0]


@pytest.mark.parametrize(
    "expression",
    [
        "git.commit",
        "git.provider",
        "event.pull_request.number",
        "event.repository.full_name",
        "event.head_commit.id",
        "secrets.TOKEN",
        "steps.build.outputs.version",
        "inputs.target",
        "event.commits.*.id",
    ],
)
def test_trusted_values_in_run_are_allowed(expression: str) -> None:
    assert (
        errors(f"steps:\n  - id: build\n    run: x\n  - run: echo ${{{{ {expression} }}}}\n") == []
    )


def test_untrusted_values_outside_scripts_are_allowed() -> None:
    text = (
        "name: ${{ git.branch }}\nsteps:\n  - uses: notify\n"
        "    with: {text: '${{ git.message }}'}\n"
        "  - run: x\n    if: contains(git.message, '[deploy]')\n"
    )
    assert errors(text) == []


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_only_ever_reach_run_through_env(value: str) -> None:
    # A manual input carrying the value is fine in env, and rejected when it is
    # an untrusted event field pasted into the script.
    assert value  # the payloads the rule exists for
    safe = 'steps:\n  - run: printf %s "$M"\n    env: {M: "${{ event.head_commit.message }}"}\n'
    assert errors(safe) == []
    assert errors("steps:\n  - run: printf %s ${{ event.head_commit.message }}\n")


def test_untrusted_paths_cover_actionlint_and_git_fields() -> None:
    paths = set(untrusted_paths())
    expected = {
        "event.issue.title", "event.issue.body", "event.pull_request.title",
        "event.pull_request.body", "event.pull_request.head.ref",
        "event.pull_request.head.label", "event.pull_request.head.repo.default_branch",
        "event.comment.body", "event.review.body", "event.review_comment.body",
        "event.pages.*.page_name", "event.commits.*.message", "event.head_commit.message",
        "event.head_commit.author.email", "event.head_commit.author.name",
        "event.commits.*.author.email", "event.commits.*.author.name",
        "event.pull_request.labels.*.name", "event.discussion.title", "event.discussion.body",
        "event.object_attributes.title", "event.object_attributes.description",
        "git.message", "git.pusher", "git.branch", "git.source_branch", "git.tag",
    }  # fmt: skip
    assert expected <= paths


def test_untrusted_reads_match_below_above_and_through_filters() -> None:
    reads = untrusted_reads(["git.pusher.email", "event", "event.*.title", "event.number"])
    assert [read for read, _ in reads] == ["git.pusher.email", "event", "event.*.title"]


CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "webhooks"
_FREE_TEXT = {"message", "title", "body", "description", "note", "source_branch"}
# Text set by the repository's maintainers, not by whoever sends the event.
_MAINTAINERS = {"project", "repository", "repo", "source", "target", "base", "milestone"}


def _text_paths(value: Any, path: str, out: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _text_paths(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for item in value:
            _text_paths(item, f"{path}.*", out)
    elif isinstance(value, str):
        out.add(path)


def test_free_text_fields_of_real_webhook_payloads_are_untrusted() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"webhook corpus not found at {CORPUS}")
    paths: set[str] = set()
    for file in sorted(CORPUS.glob("*/*.json")):
        payload = json.loads(file.read_text(encoding="utf-8"))
        if isinstance(payload, dict) and "headers" not in file.name:
            _text_paths(payload, "event", paths)
    free_text = {
        p for p in paths
        if p.rsplit(".", 1)[-1] in _FREE_TEXT and not _MAINTAINERS & set(p.split(".")[1:-1])
    }  # fmt: skip
    assert free_text, "the corpus should hold commit messages and titles"
    flagged = {read for read, _ in untrusted_reads(sorted(free_text))}
    assert sorted(free_text - flagged) == []
