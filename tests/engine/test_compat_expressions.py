"""serverless-cd's JavaScript expression habits: ===, !==, double quotes; warned, never fatal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scd_engine.expressions import ExpressionError, evaluate, find_expressions, github_form, render
from scd_engine.spec import lint_pipeline

from tests.engine.test_runtime_steps import run_yaml

CONTEXTS: dict[str, Any] = {
    "steps": {"build": {"status": "success", "outputs": {"count": 1, "hit": True}}},
    "git": {"branch": "main"},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('steps.build.status === "success"', True),
        ("steps.build.status === 'success'", True),
        ('steps.build.status === "SUCCESS"', False),  # strict: case matters
        ('steps.build.status == "SUCCESS"', True),  # GitHub's == ignores case
        ('steps.build.outputs.count === "1"', False),  # strict: no coercion
        ('steps.build.outputs.count == "1"', True),
        ("steps.build.outputs.count === 1", True),
        ('steps.build.outputs.hit !== "true"', True),
        ("steps.build.outputs.hit !== true", False),
        ("steps.build !== steps.build", False),  # an object equals itself
        ("steps.build === steps", False),
        ("null === null", True),
        ("NaN === NaN", False),
        ('git.branch === "main" && steps.build.status !== "failure"', True),
    ],
)
def test_strict_comparison_neither_coerces_nor_ignores_case(
    expression: str, expected: bool
) -> None:
    assert evaluate(expression, CONTEXTS) is expected


def test_double_quoted_strings_take_javascript_escapes() -> None:
    assert evaluate(r'"a\"b\\c\n\u0041"', {}) == 'a"b\\c\nA'
    assert evaluate('"it\'s"', {}) == "it's"


def test_an_unclosed_double_quoted_string_is_a_lexing_error() -> None:
    with pytest.raises(ExpressionError, match="Unexpected symbol"):
        evaluate('"abc', {})


def test_a_closing_brace_pair_inside_a_double_quoted_string_does_not_end_the_expression() -> None:
    assert find_expressions('x ${{ "}}" }} y') == [(2, 13, '"}}"')]
    assert render('${{ "a\\"}}" }}', {}) == 'a"}}'
    assert render("${{ \"'\" }}${{ 'b' }}", {}) == "'b"


def test_github_form_rewrites_only_the_javascript_spellings() -> None:
    assert github_form("a.b === \"x'y\" || c !== 'd'") == "a.b == 'x''y' || c != 'd'"
    assert github_form("a.b == 'x'") is None


def test_the_validator_warns_with_the_github_form_and_loading_still_succeeds(
    tmp_path: Path,
) -> None:
    text = (
        "steps:\n"
        "  - id: build\n"
        "    run: echo built\n"
        "  - run: echo after\n"
        '    if: ${{ steps.build.status === "success" }}\n'
    )
    problems = lint_pipeline("p.yaml", text)
    assert [p.severity for p in problems] == ["warning"]
    assert "GitHub's form is ${{ steps.build.status == 'success' }}" in problems[0].message
    assert "ignores letter case" in problems[0].message
    assert (problems[0].line, problems[0].column) == (5, 9)
    result, log, _ = run_yaml(tmp_path, text)
    assert result.status == "success"
    assert [s.status for s in result.steps] == ["success", "success"]
    assert log("1") == "after\n"


def test_serverless_cds_hash_file_is_hash_files_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "package-lock.json").write_text("{}")
    text = (
        "steps:\n"
        "  - id: h\n"
        '    run: echo ${{ hashFile("./package-lock.json") }}'
        " ${{ hashFiles('package-lock.json') }}\n"
    )
    [problem] = lint_pipeline("p.yaml", text)
    assert problem.severity == "warning"
    assert "GitHub's form is ${{ hashFiles('./package-lock.json') }}" in problem.message
    assert "SHA-1" in problem.message
    result, log, _ = run_yaml(tmp_path, text)
    assert result.status == "success"
    first, second = log("h").split()
    assert first == second
    assert len(first) == 64
