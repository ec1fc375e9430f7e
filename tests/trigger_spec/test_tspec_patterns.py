"""GitHub's filter-pattern dialect: upstream cases and each rule of the dialect."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scd_trigger_spec.patterns import compile_pattern, skip_for_paths, skip_for_paths_ignore
from tspec_helpers import corpus_dir


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((corpus_dir("glob") / "cases.json").read_text())
    return cases


def test_every_upstream_case_gives_acts_skip_and_filter_answers() -> None:
    cases = _cases()
    assert len(cases) >= 32
    wrong = [
        case
        for case in cases
        if skip_for_paths(case["patterns"], case["inputs"]) != case["skip_with_paths"]
        or skip_for_paths_ignore(case["patterns"], case["inputs"]) != case["skip_with_paths_ignore"]
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("*", ["main", "a.b"], ["feature/x"]),
        ("**", ["feature/x/y", ""], []),
        ("feature/*", ["feature/x"], ["feature/x/y", "feature"]),
        ("feature/**", ["feature/x/y"], ["featurex"]),
        ("**/README.md", ["README.md", "a/b/README.md"], ["xREADME.md"]),
        ("docs/**/*.md", ["docs/a.md", "docs/x/y/a.md"], ["docs/a.txt"]),
        ("*.jsx?", ["a.js", "a.jsx"], ["a.jsxx", "dir/a.js"]),
        ("v[0-9]+.*", ["v10.x", "v1.2"], ["v.1", "vx.1"]),
        ("[A-Z]*", ["Main"], ["main"]),
        ("?x", ["?x"], ["ax"]),
        ("+x", ["+x"], ["x"]),
        ("\\!file", ["!file"], ["file"]),
        ("escape\\\\backslash", ["escape\\backslash"], ["escapebackslash"]),
        (".yml", [".yml"], ["fyml"]),
        ("main", ["main"], ["Main", "main\n", "mainx"]),
    ],
)
def test_pattern_matches_whole_input_by_github_rules(
    pattern: str, matches: list[str], misses: list[str]
) -> None:
    regex = compile_pattern(pattern)
    assert all(regex.fullmatch(v) for v in matches)
    assert not any(regex.fullmatch(v) for v in misses)


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("[]", "empty brackets"),
        ("[abc", "missing closing bracket"),
        ("[-a]", "invalid range"),
        ("[z-a]", "ranges can only include"),
        ("[.]", "brackets can only hold"),
        ("foo\\", "missing symbol"),
        ("a*+", "nested repetition"),
    ],
)
def test_invalid_pattern_raises_value_error_naming_the_problem(pattern: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment) as info:
        compile_pattern(pattern)
    assert pattern.lstrip("!") in str(info.value)


def test_later_negation_excludes_and_later_positive_reincludes() -> None:
    assert skip_for_paths(["*", "!main"], ["main"]) is True
    assert skip_for_paths(["*", "!main", "main"], ["main"]) is False
    assert skip_for_paths(["!main", "*"], ["main"]) is False


def test_paths_filter_runs_when_any_file_is_included() -> None:
    assert skip_for_paths(["src/**"], ["docs/a.md", "src/x.py"]) is False
    assert skip_for_paths(["src/**"], ["docs/a.md"]) is True
    assert skip_for_paths([], ["anything"]) is False
    assert skip_for_paths(["src/**"], []) is True


def test_paths_ignore_skips_only_when_every_file_is_ignored() -> None:
    assert skip_for_paths_ignore(["docs/**"], ["docs/a.md"]) is True
    assert skip_for_paths_ignore(["docs/**"], ["docs/a.md", "src/x.py"]) is False
    assert skip_for_paths_ignore([], ["docs/a.md"]) is False
    # act's Filter: a negative pattern that does not match an input ignores it
    assert skip_for_paths_ignore(["!docs/**"], ["src/x.py"]) is True


def test_compiled_patterns_are_cached() -> None:
    assert compile_pattern("release/**") is compile_pattern("release/**")
    assert compile_pattern("!release/**").pattern == compile_pattern("release/**").pattern
