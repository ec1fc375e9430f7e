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
        "event.commits.*.id",
        "env.HOME_DIR",
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


# GitHub Security Lab's untrusted fields ("Keeping your GitHub Actions and workflows secure
# Part 2: Untrusted input"): titles, bodies, branch and ref names, commit messages, author
# names and emails, file names, labels; then each provider's equivalents.
SECURITY_LAB = {
    "github": [
        "event.issue.title", "event.issue.body", "event.pull_request.title",
        "event.pull_request.body", "event.comment.body", "event.review.body",
        "event.pull_request.head.ref", "event.pull_request.head.label",
        "event.pull_request.head.repo.default_branch", "event.head_commit.message",
        "event.head_commit.author.email", "event.head_commit.author.name",
        "event.commits[0].message", "event.commits.*.author.email",
        "event.head_commit.added", "event.head_commit.modified", "event.head_commit.removed",
        "event.commits.*.added", "event.pull_request.labels.*.name", "event.ref",
        "event.pusher.name", "event.pusher.email",
    ],
    "gitlab": [
        "event.object_attributes.title", "event.object_attributes.description",
        "event.object_attributes.source_branch", "event.object_attributes.last_commit.message",
        "event.commits.*.message", "event.commits.*.author.name", "event.commits.*.added",
        "event.commits.*.modified", "event.user_name", "event.user_email", "event.ref",
        "event.labels.*.title",
    ],
    "gitee": [
        "event.head_commit.message", "event.commits.*.added", "event.pull_request.title",
        "event.pull_request.body", "event.pull_request.head.ref", "event.title", "event.body",
        "event.sender.name", "event.pusher.name",
    ],
    "codeup": [
        "event.commits.*.message", "event.commits.*.added", "event.commits.*.author.name",
        "event.object_attributes.title", "event.object_attributes.source_branch",
        "event.user_name", "event.ref",
    ],
    "git": [
        "git.message", "git.branch", "git.tag", "git.ref", "git.pusher", "git.pusher.name",
        "git.source_branch", "git.target_branch", "git.added", "git.changed_files",
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    "path", [p for paths in SECURITY_LAB.values() for p in paths], ids=lambda p: p
)
@pytest.mark.parametrize(
    "shape",
    ["{0}", "join({0}, ' ')", "format('x{{0}}', {0})", "toJSON({0})", "fromJSON({0})",
     "{0}[0]", "env[{0}]"],
)  # fmt: skip
def test_untrusted_fields_are_refused_in_run_through_any_function_or_index(
    path: str, shape: str
) -> None:
    expression = shape.format(path)
    found = errors(f"steps:\n  - run: echo \"${{{{ {expression} }}}}\"\n")
    assert len(found) == 1, expression
    assert "uses untrusted value" in found[0]
    assert "pass it through env instead" in found[0]


def test_file_names_joined_into_run_are_refused_as_the_red_team_found() -> None:
    found = errors("steps:\n  - run: echo \"${{ join(event.head_commit.added, ' ') }}\"\n")
    assert found
    assert found[0].startswith("run: uses untrusted value event.head_commit.added")


def test_manual_run_inputs_are_refused_in_run_and_script_with_the_env_form() -> None:
    found = errors("steps:\n  - run: deploy ${{ inputs.target }}\n")
    assert len(found) == 1
    assert 'env: {TARGET: ${{ inputs.target }}} and use "$TARGET"' in found[0]
    assert errors("steps:\n  - script: print('${{ inputs.target }}')\n")
    assert errors("steps:\n  - run: deploy \"$T\"\n    env: {T: '${{ inputs.target }}'}\n") == []


def test_an_env_variable_built_from_untrusted_text_is_untrusted_in_run() -> None:
    step_level = (
        "steps:\n  - run: echo ${{ env.MSG }}\n    env: {MSG: 'msg ${{ git.message }}'}\n"
    )
    assert "uses untrusted value env.MSG" in errors(step_level)[0]
    pipeline_level = "env: {BR: '${{ git.branch }}'}\nsteps:\n  - run: echo ${{ env.br }}\n"
    assert errors(pipeline_level)
    chained = (
        "env: {A: '${{ inputs.x }}'}\nsteps:\n  - run: echo ${{ env.B }}\n"
        "    env: {B: '${{ env.A }}-suffix'}\n"
    )
    assert errors(chained)
    safe = "env: {SHA: '${{ git.commit }}'}\nsteps:\n  - run: echo ${{ env.SHA }}\n"
    assert errors(safe) == []


@pytest.mark.parametrize(
    "expression",
    ["event.pull_request.number", "event.head_commit.id", "event.after",
     "event.repository.full_name", "event.sender.login", "event.pull_request.merged",
     "event.object_attributes.iid",
     "git.commit", "git.pr_number", "git.repository"],
)  # fmt: skip
def test_values_a_sender_cannot_shape_stay_allowed(expression: str) -> None:
    assert errors(f"steps:\n  - run: echo ${{{{ {expression} }}}}\n") == []
