"""serverless-cd's micromatch globs and list rule, used by converted trigger specs."""

from __future__ import annotations

import pytest
from scd_trigger_spec.globs import glob_list_matches, glob_regex


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("main", ["main"], ["mainx", "Main"]),
        ("feature*", ["feature", "featurex"], ["featurex/y"]),
        ("feature/**", ["feature", "feature/x", "feature/x/y"], ["featurex"]),
        ("*", ["main"], ["a/b", ".hidden"]),
        ("**", ["a", "a/b/c"], [".git/x"]),
        ("v?.0", ["v1.0"], ["v10.0", "v/.0"]),
        ("v[0-9].*", ["v1.x"], ["va.x"]),
        ("v[!0-9]", ["va"], ["v1"]),
        ("{main,dev}", ["main", "dev"], ["test"]),
        ("v{1..3}", ["v1", "v3"], ["v4"]),
        ("a/**/b", ["a/b", "a/x/y/b"], ["a/xb"]),
        ("**/b", ["b", "x/b"], ["xb"]),
    ],
)
def test_glob_follows_micromatch_meaning(
    pattern: str, matches: list[str], misses: list[str]
) -> None:
    regex = glob_regex(pattern)
    assert all(regex.fullmatch(v) for v in matches)
    assert not any(regex.fullmatch(v) for v in misses)


def test_exclusion_at_the_end_wins_over_earlier_inclusions() -> None:
    assert glob_list_matches(["*", "**", "!wip"], "wip") is False
    assert glob_list_matches(["*", "**", "!wip"], "main") is True


def test_list_of_only_exclusions_matches_everything_else() -> None:
    assert glob_list_matches(["!wip"], "main") is True
    assert glob_list_matches(["!wip"], "wip") is False


def test_empty_list_matches_nothing() -> None:
    assert glob_list_matches([], "main") is False


def test_runaway_brace_expansion_is_refused() -> None:
    with pytest.raises(ValueError, match="too many"):
        glob_regex("{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}{o,p}{q,r}")
