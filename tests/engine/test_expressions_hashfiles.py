"""hashFiles(): GitHub's digest over the files a set of glob patterns selects."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from scd_engine.expressions import evaluate, hash_files, hash_files_function


def _expected(root: Path, *relpaths: str) -> str:
    outer = hashlib.sha256()
    for rel in sorted(relpaths):
        outer.update(hashlib.sha256((root / rel).read_bytes()).digest())
    return outer.hexdigest()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    files = {
        "package-lock.json": "{}",
        "src/app.py": "print(1)",
        "src/lib/util.py": "x = 1",
        "src/lib/.hidden.py": "y = 2",
        "docs/readme.md": "# hi",
        "vendor/dep/lock.json": "[]",
    }
    for rel, text in files.items():
        path = tmp_path / "ws" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "ws"


def test_single_file_hash_is_sha256_of_its_sha256(workspace: Path) -> None:
    assert hash_files(workspace, ["package-lock.json"]) == _expected(workspace, "package-lock.json")


def test_globstar_matches_at_any_depth_including_dot_files(workspace: Path) -> None:
    expected = _expected(workspace, "src/app.py", "src/lib/util.py", "src/lib/.hidden.py")
    assert hash_files(workspace, ["**/*.py"]) == expected


def test_star_stays_within_one_directory(workspace: Path) -> None:
    assert hash_files(workspace, ["src/*.py"]) == _expected(workspace, "src/app.py")


def test_directory_pattern_takes_every_file_under_it(workspace: Path) -> None:
    assert hash_files(workspace, ["src/lib"]) == _expected(
        workspace, "src/lib/util.py", "src/lib/.hidden.py"
    )


def test_exclusion_pattern_removes_matches_and_later_include_restores(workspace: Path) -> None:
    assert hash_files(workspace, ["**/*.json", "!vendor/**"]) == _expected(
        workspace, "package-lock.json"
    )
    assert hash_files(workspace, ["**/*.json", "!vendor/**", "vendor/dep/lock.json"]) == _expected(
        workspace, "package-lock.json", "vendor/dep/lock.json"
    )


def test_hash_is_independent_of_pattern_order(workspace: Path) -> None:
    assert hash_files(workspace, ["docs/*", "src/app.py"]) == hash_files(
        workspace, ["src/app.py", "docs/*"]
    )


def test_no_match_gives_empty_string(workspace: Path) -> None:
    assert hash_files(workspace, ["*.nothing"]) == ""
    assert hash_files(workspace, ["!**"]) == ""


def test_files_outside_the_workspace_never_count(workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (workspace / "link.txt").symlink_to(outside)
    assert hash_files(workspace, ["../secret.txt"]) == ""
    assert hash_files(workspace, [str(outside)]) == ""
    assert hash_files(workspace, ["link.txt"]) == ""


def test_absolute_pattern_inside_workspace_matches(workspace: Path) -> None:
    pattern = str(workspace / "src" / "app.py")
    assert hash_files(workspace, [pattern]) == _expected(workspace, "src/app.py")


def test_hash_changes_when_a_matched_file_changes(workspace: Path) -> None:
    before = hash_files(workspace, ["src/**"])
    (workspace / "src" / "app.py").write_text("print(2)")
    assert hash_files(workspace, ["src/**"]) != before


def test_bound_function_serves_hashfiles_in_expressions(workspace: Path) -> None:
    functions = {"hashFiles": hash_files_function(workspace)}
    value = evaluate(
        "format('deps-{0}', hashFiles('**/*.json', '!vendor/**'))", {}, functions=functions
    )
    assert value == "deps-" + _expected(workspace, "package-lock.json")
