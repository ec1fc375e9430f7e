"""accept(): the trigger spec's decisions and the precise reasons of ignored events."""

from __future__ import annotations

from typing import Any

import pytest
from scd_trigger_spec import Accepted, App, Ignored, accept
from tspec_helpers import SECRET, dumps, github_headers, github_pr, github_push


def _decide(
    trigger: dict[str, Any] | None, payload: dict[str, Any], event: str = "push", **app_fields: Any
) -> Accepted | Ignored:
    fields: dict[str, Any] = {
        "name": "web",
        "repo": "https://github.com/acme/web.git",
        "secret": SECRET,
        **app_fields,
    }
    if trigger is not None:
        fields["trigger"] = trigger
    body = dumps(payload)
    result = accept(App.model_validate(fields), github_headers(body, event), body)
    assert not isinstance(result, tuple)
    assert isinstance(result, (Accepted, Ignored))
    return result


def _reason(
    trigger: dict[str, Any] | None, payload: dict[str, Any], event: str = "push", **app_fields: Any
) -> str | None:
    result = _decide(trigger, payload, event, **app_fields)
    return result.reason if isinstance(result, Ignored) else None


def test_branch_filter_reason_names_filter_and_value() -> None:
    trigger = {"push": {"branches": ["main"]}}
    assert _reason(trigger, github_push("refs/heads/main")) is None
    assert (
        _reason(trigger, github_push("refs/heads/dev"))
        == "branch 'dev' does not match push.branches [main]"
    )


def test_branches_ignore_and_negation() -> None:
    assert _reason({"push": {"branches-ignore": ["wip/**"]}}, github_push("refs/heads/wip/a")) == (
        "branch 'wip/a' matches push.branches-ignore [wip/**]"
    )
    assert _reason({"push": {"branches-ignore": ["wip/**"]}}, github_push()) is None
    trigger = {"push": {"branches": ["release/**", "!release/old"]}}
    assert _reason(trigger, github_push("refs/heads/release/new")) is None
    assert _reason(trigger, github_push("refs/heads/release/old")) is not None


def test_tag_filters_match_tag_pushes_only() -> None:
    trigger = {"push": {"tags": ["v*"]}}
    assert _reason(trigger, github_push("refs/tags/v1.0")) is None
    assert _reason(trigger, github_push("refs/tags/x1")) == "tag 'x1' does not match push.tags [v*]"
    assert _reason(trigger, github_push("refs/heads/main")) == (
        "branch push 'main' ignored: only push.tags filters are set"
    )
    assert _reason({"push": {"tags-ignore": ["nightly*"]}}, github_push("refs/tags/nightly-1")) == (
        "tag 'nightly-1' matches push.tags-ignore [nightly*]"
    )


def test_only_branch_filters_ignore_tag_pushes() -> None:
    assert _reason({"push": {"branches": ["main"]}}, github_push("refs/tags/v1")) == (
        "tag push 'v1' ignored: only push.branches filters are set"
    )


def test_push_without_filters_matches_branches_and_tags() -> None:
    assert _reason({"push": {}}, github_push("refs/tags/v1")) is None
    assert _reason(None, github_push("refs/heads/any")) is None


def test_other_refs_are_ignored() -> None:
    assert _reason({"push": {}}, github_push("refs/notes/x")) == (
        "ref 'refs/notes/x' is neither a branch nor a tag"
    )


def test_paths_filter_uses_changed_files_of_all_commits() -> None:
    trigger = {"push": {"paths": ["src/**"]}}
    docs_only = github_push(files=(["docs/a.md"], [], []))
    assert _reason(trigger, docs_only) == "no changed file matches push.paths [src/**]"
    two_commits = github_push(files=(["docs/a.md"], [], []))
    two_commits["commits"].append({"id": "f" * 40, "removed": ["src/old.py"]})
    assert _reason(trigger, two_commits) is None


def test_paths_ignore_skips_when_every_file_is_ignored() -> None:
    trigger = {"push": {"paths-ignore": ["docs/**", "*.md"]}}
    assert _reason(trigger, github_push(files=([], ["docs/x.md"], ["README.md"]))) == (
        "every changed file matches push.paths-ignore [docs/**, *.md]"
    )
    assert _reason(trigger, github_push(files=([], ["docs/x.md", "src/a.py"], []))) is None


def test_paths_are_not_evaluated_for_tags_or_unknown_file_lists() -> None:
    trigger = {"push": {"paths": ["src/**"]}}
    assert _reason(trigger, github_push("refs/tags/v1", files=(["docs/a"], [], []))) is None
    assert _reason(trigger, github_push(commits=[])) is None


def test_deletions_are_ignored_unless_asked_for() -> None:
    deletion = github_push(
        "refs/heads/old", after="0" * 40, deleted=True, commits=[], head_commit=None
    )
    assert _reason({"push": {}}, deletion) == (
        "branch 'old' was deleted; set push.deletions: true to run on deletions"
    )
    result = _decide({"push": {"deletions": True}}, deletion)
    assert isinstance(result, Accepted)
    assert result.event.action == "deleted"
    assert result.event.commit is None


@pytest.mark.parametrize(
    "marker", ["[skip ci]", "[ci skip]", "[no ci]", "[skip scd]", "[scd skip]", "[SKIP CI]"]
)
def test_skip_markers_in_head_commit_message_ignore_a_push(marker: str) -> None:
    reason = _reason({"push": {}}, github_push(message=f"docs: typo {marker}\n\nbody"))
    assert reason == f"head commit message contains '{marker.lower()}'"


def test_push_not_in_trigger_spec_is_ignored() -> None:
    assert _reason({"pull_request": {}}, github_push()) == (
        "branch push 'main' ignored: the trigger spec has no push"
    )


def test_pull_request_default_types() -> None:
    trigger = {"pull_request": {}}
    for action in ("opened", "synchronize", "reopened"):
        assert _reason(trigger, github_pr(action), "pull_request") is None
    assert _reason(trigger, github_pr("edited"), "pull_request") == (
        "pull_request action 'edited' is not in pull_request.types [opened, synchronize, reopened]"
    )


def test_closed_and_merged_pull_requests_are_told_apart() -> None:
    trigger = {"pull_request": {"types": ["merged"]}}
    merged = _decide(trigger, github_pr("closed", merged=True), "pull_request")
    assert isinstance(merged, Accepted)
    assert merged.event.action == "merged"
    assert merged.event.commit == "c" * 40
    assert merged.event.ref == "refs/heads/main"
    assert _reason(trigger, github_pr("closed"), "pull_request") == (
        "pull_request action 'closed' is not in pull_request.types [merged]"
    )


def test_pull_request_branches_match_target_and_sources_match_source() -> None:
    trigger = {"pull_request": {"branches": ["main"], "sources-ignore": ["dependabot/**"]}}
    assert _reason(trigger, github_pr(target="main"), "pull_request") is None
    assert _reason(trigger, github_pr(target="dev"), "pull_request") == (
        "target branch 'dev' does not match pull_request.branches [main]"
    )
    assert _reason(trigger, github_pr(source="dependabot/npm"), "pull_request") == (
        "source branch 'dependabot/npm' matches pull_request.sources-ignore [dependabot/**]"
    )


def test_pull_request_event_fields_are_normalised() -> None:
    result = _decide({"pull_request": {}}, github_pr(number=12), "pull_request")
    assert isinstance(result, Accepted)
    event = result.event
    assert (event.event_name, event.pr_number, event.ref) == (
        "pull_request",
        12,
        "refs/pull/12/head",
    )
    assert (event.source_branch, event.target_branch, event.commit) == (
        "feature/x",
        "main",
        "d" * 40,
    )
    assert (event.merged, event.draft, event.message, event.pusher) == (
        False,
        False,
        "Add x",
        "octo",
    )


def test_pull_request_not_in_trigger_spec_is_ignored() -> None:
    assert _reason(None, github_pr(), "pull_request") == (
        "pull request ignored: the trigger spec has no pull_request"
    )


def _sd(block: dict[str, Any]) -> dict[str, Any]:
    return {"github": block}


def _sd_reason(block: dict[str, Any], payload: dict[str, Any], event: str = "push") -> str | None:
    fields: dict[str, Any] = {"name": "web", "repo": "r", "secret": SECRET, "github": block}
    body = dumps(payload)
    result = accept(App.model_validate(fields), github_headers(body, event), body)
    assert isinstance(result, (Accepted, Ignored))
    return result.reason if isinstance(result, Ignored) else None


def test_serverless_cd_empty_prefix_matches_every_branch() -> None:
    block = {"push": {"branches": {"prefix": []}}}
    assert _sd_reason(block, github_push("refs/heads/any/deep/name")) is None
    assert _sd_reason(block, github_push("refs/tags/v1")) == (
        "tag push 'v1': no push.tags rules configured"
    )


def test_serverless_cd_prefix_precise_and_exclude() -> None:
    block = {
        "push": {"branches": {"prefix": ["release"], "precise": ["main"], "exclude": ["main"]}}
    }
    assert _sd_reason(block, github_push("refs/heads/releasex")) is None
    assert _sd_reason(block, github_push("refs/heads/release/1/2")) is None
    assert _sd_reason(block, github_push("refs/heads/releasex/y")) is not None  # its quirk
    assert _sd_reason(block, github_push("refs/heads/main")) is not None  # exclude wins


def test_serverless_cd_tag_rules() -> None:
    block = {
        "push": {
            "tags": {
                "prefix": ["feature"],
                "precise": ["v0.0.1"],
                "exclude": ["1.0.0"],
                "include": ["v0.0.1/*"],
            }
        }
    }
    assert _sd_reason(block, github_push("refs/tags/v0.0.1")) is None
    assert _sd_reason(block, github_push("refs/tags/v0.0.1/x")) is None
    assert _sd_reason(block, github_push("refs/tags/1.0.0")) is not None
    assert _sd_reason(block, github_push("refs/heads/main")) == (
        "branch push 'main': no push.branches rules configured"
    )


def test_serverless_cd_pull_request_rules_first_hit_in_priority_order() -> None:
    block = {
        "pull_request": {
            "types": ["opened", "merged"],
            "branches": {
                "include": [{"target": "*"}],
                "prefix": [{"target": "rel", "source": "hot"}],
                "exclude": [{"target": "main", "source": "wip*"}],
            },
        }
    }
    pr = "pull_request"
    assert _sd_reason(block, github_pr(target="main", source="wip-1"), pr) == (
        "pull request 'wip-1' -> 'main' matches exclude rule {target: main, source: wip*}"
    )
    assert _sd_reason(block, github_pr(target="main", source="feature"), pr) is None
    assert _sd_reason(block, github_pr(target="release-1", source="hotfix"), pr) is None
    # prefix 'rel' is 'rel*' and 'rel/**': 'release/1' crosses a '/' and matches neither
    assert _sd_reason(block, github_pr(target="release/1", source="hotfix"), pr) is not None
    assert _sd_reason(block, github_pr(target="a/b", source="x"), pr) == (
        "pull request 'x' -> 'a/b' matches no pull_request.branches rule"
    )
    assert _sd_reason(block, github_pr("synchronize"), pr) is not None


def test_serverless_cd_pull_request_without_types_or_rules_never_triggers() -> None:
    pr = "pull_request"
    assert _sd_reason(
        {"pull_request": {"branches": {"include": [{"target": "*"}]}}}, github_pr(), pr
    )
    assert _sd_reason({"pull_request": {"types": ["opened"]}}, github_pr(), pr) == (
        "pull request ignored: no pull_request.branches rules configured"
    )
