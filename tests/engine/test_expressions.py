"""Behaviour of the expression API beyond the upstream corpus: errors, templates, conditions,
paths, text conversion, limits and custom functions."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scd_core.errors import ScdError
from scd_engine.expressions import (
    MAX_MEMORY,
    ExpressionError,
    condition,
    evaluate,
    find_expressions,
    parse,
    referenced_paths,
    render,
    render_value,
    to_bool,
    to_text,
    uses_status_function,
)
from scd_engine.expressions.coercion import js_number_text

CONTEXTS: dict[str, Any] = {
    "git": {"branch": "main", "message": "fix: it", "commits": [{"message": "a"}]},
    "env": {"NAME": "world", "EMPTY": ""},
    "steps": {"build": {"outputs": {"version": "1.2.0"}, "outcome": "success"}},
}


# -- evaluation ----------------------------------------------------------------------------


def test_logical_operators_return_the_deciding_operand_not_a_boolean() -> None:
    assert evaluate("env.EMPTY || 'fallback'", CONTEXTS) == "fallback"
    assert evaluate("git.branch == 'main' && 'prod' || 'dev'", CONTEXTS) == "prod"
    assert evaluate("env.NAME && env.EMPTY", CONTEXTS) == ""


def test_names_and_keys_are_found_case_insensitively() -> None:
    assert evaluate("GIT.Branch", CONTEXTS) == "main"
    assert evaluate("steps.BUILD.outputs['VERSION']", CONTEXTS) == "1.2.0"


def test_filter_collects_a_property_from_every_item() -> None:
    assert evaluate("git.commits.*.message", CONTEXTS) == ["a"]
    assert evaluate("contains(git.commits.*.message, 'A')", CONTEXTS) is True


def test_missing_property_is_null_not_an_error() -> None:
    assert evaluate("steps.nope.outputs.x", CONTEXTS) is None


def test_unknown_name_is_a_parsing_error_naming_it() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("github.sha", CONTEXTS)
    assert caught.value.kind == "parsing"
    assert "Unrecognized named-value: 'github'" in str(caught.value)
    assert caught.value.position == 1


def test_unknown_function_is_a_parsing_error_even_when_not_reached() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("false && upper('x')", {})
    assert caught.value.kind == "parsing"
    assert "Unrecognized function: 'upper'" in str(caught.value)


def test_expression_error_is_an_scd_error_with_stage_and_position() -> None:
    with pytest.raises(ScdError) as caught:
        evaluate("1 @x", {})
    err = caught.value
    assert isinstance(err, ExpressionError)
    assert (err.kind, err.position, err.description) == ("lexing", 3, "Unexpected symbol: '@x'")
    assert str(err) == "Unexpected symbol: '@x'. Located at position 3 within expression: 1 @x"


def test_error_position_counts_characters_across_lines() -> None:
    expr = "git.branch == 'main'\n  && nope"
    with pytest.raises(ExpressionError) as caught:
        evaluate(expr, CONTEXTS)
    assert caught.value.position == expr.index("nope") + 1


def test_unexpected_end_points_at_the_last_token() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("contains(git.branch, ", CONTEXTS)
    assert caught.value.kind == "parsing"
    assert "Unexpected end of expression: ','" in str(caught.value)
    assert caught.value.position == len("contains(git.branch,")


def test_function_errors_are_evaluation_errors_without_position() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("format('{1}', 'a')", {})
    assert caught.value.kind == "evaluation"
    assert caught.value.position is None
    assert "references more arguments than were supplied: {1}" in str(caught.value)


def test_format_error_does_not_quote_a_format_string_read_from_secrets() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("format(secrets.TOKEN)", {"secrets": {"TOKEN": "s3cr3t{"}})
    assert "s3cr3t" not in str(caught.value)
    with pytest.raises(ExpressionError, match=r"is invalid: x\{"):
        evaluate("format(env.F)", {"env": {"F": "x{"}})


def test_format_escapes_braces_and_repeats_arguments() -> None:
    assert evaluate("format('{{{0}}} {1}{0}', 'a', 2)", {}) == "{a} 2a"


def test_case_returns_value_of_first_true_predicate() -> None:
    assert evaluate(
        "case(git.branch == 'dev', 'dev', git.branch == 'main', 'prod', 'x')", CONTEXTS
    ) == ("prod")
    assert evaluate("case(false, 1, false, 2, 3)", {}) == 3


def test_error_inside_an_index_names_the_index_access() -> None:
    with pytest.raises(ExpressionError, match="could not evaluate index for index access: empty"):
        evaluate("env[fromJSON('')]", CONTEXTS)


def test_default_status_functions_without_a_run() -> None:
    assert evaluate("success() && always() && !failure() && !cancelled()", {}) is True


def test_hash_files_without_workspace_is_an_evaluation_error() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("hashFiles('*.lock')", {})
    assert caught.value.kind == "evaluation"
    assert "workspace" in str(caught.value)


def test_custom_functions_win_over_builtins_and_resolve_case_insensitively() -> None:
    calls: list[tuple[Any, ...]] = []

    def failure(*args: Any) -> bool:
        calls.append(args)
        return True

    assert evaluate("FAILURE()", {}, functions={"failure": failure}) is True
    assert evaluate("Shout('a')", {}, functions={"shout": lambda s: s.upper()}) == "A"
    assert calls == [()]


def test_custom_function_exception_becomes_evaluation_error() -> None:
    def broken() -> None:
        raise OSError("disk gone")

    with pytest.raises(ExpressionError) as caught:
        evaluate("broken()", {}, functions={"broken": broken})
    assert caught.value.kind == "evaluation"
    assert isinstance(caught.value.__cause__, OSError)


def test_status_function_arity_is_checked_at_parse_time() -> None:
    with pytest.raises(ExpressionError, match="Too many parameters supplied: 'success'"):
        evaluate("success(1)", {})


def test_memory_limit_stops_runaway_string_building() -> None:
    big = "x" * (MAX_MEMORY // 8)
    assert len(evaluate("format('{0}{0}', v)", {"v": big})) == 2 * len(big)
    with pytest.raises(ExpressionError) as caught:
        evaluate("format('{0}{0}{0}{0}{0}', v)", {"v": big})
    assert caught.value.kind == "evaluation"
    assert "maximum allowed memory size was exceeded" in str(caught.value)


def test_expression_longer_than_limit_is_rejected() -> None:
    with pytest.raises(ExpressionError, match="Exceeded max expression length 21000"):
        evaluate("1 || " * 5000 + "1", {})


def test_empty_expression_is_null() -> None:
    assert evaluate("  ", {}) is None
    assert parse("") is None


def test_parse_without_allowed_names_accepts_any_name() -> None:
    assert parse("anything.at.all") is not None
    with pytest.raises(ExpressionError, match="Unrecognized named-value: 'x'"):
        parse("x", allowed_names=["y"])


# -- text and truth ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (1.0, "1"),
        (3, "3"),
        (-0.0, "0"),
        (0.1 + 0.2, "0.3"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-7"),
        (123456.789, "123456.789"),
        (math.inf, "Infinity"),
        (math.nan, "NaN"),
        ("text", "text"),
        ([1, "a"], '[\n  1,\n  "a"\n]'),
        ({"a": None}, '{\n  "a": null\n}'),
        (["é\u2028\ud800"], '[\n  "é\u2028\\ud800"\n]'),
    ],
)
def test_to_text_writes_values_as_github_does(value: Any, text: str) -> None:
    assert to_text(value) == text


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (None, False),
        ("", False),
        (0, False),
        (math.nan, False),
        ("0", True),
        ([], True),
        ({}, True),
    ],
)
def test_to_bool_follows_github_truthiness(value: Any, truth: bool) -> None:
    assert to_bool(value) is truth


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_javascript_number_text_round_trips(x: float) -> None:
    assert float(js_number_text(x)) == x


# -- templates -----------------------------------------------------------------------------


def test_find_expressions_skips_braces_inside_string_literals() -> None:
    template = "a ${{ format('}}{0}', env.NAME) }} b ${{env.NAME}}"
    found = find_expressions(template)
    assert [source for _, _, source in found] == ["format('}}{0}', env.NAME)", "env.NAME"]
    start, end, _ = found[0]
    assert template[start:end] == "${{ format('}}{0}', env.NAME) }}"


def test_find_expressions_rejects_unclosed_and_empty_markers() -> None:
    with pytest.raises(ExpressionError, match="not closed"):
        find_expressions("echo ${{ env.NAME }")
    with pytest.raises(ExpressionError, match="An expression was expected"):
        find_expressions("echo ${{ }}")


def test_render_substitutes_every_expression_as_text() -> None:
    out = render("hello ${{ env.NAME }} v${{ steps.build.outputs.version }} ${{ null }}!", CONTEXTS)
    assert out == "hello world v1.2.0 !"
    assert render("${{ 1 == 1 }}", {}) == "true"
    assert render("no markers {{ here }}", {}) == "no markers {{ here }}"


def test_render_value_keeps_the_raw_value_of_a_lone_expression() -> None:
    assert render_value("${{ fromJSON('[1, 2]') }}", {}) == [1, 2]
    assert render_value("${{ 3 }}", {}) == 3
    assert render_value("v${{ 3 }}", {}) == "v3"
    assert render("${{ 3 }}", {}) == "3"


def test_render_writes_objects_as_json() -> None:
    assert render("${{ steps.build.outputs }}", CONTEXTS) == '{\n  "version": "1.2.0"\n}'


# -- conditions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expression"),
    [
        ("git.branch == 'main'", "success() && (git.branch == 'main')"),
        ("${{ git.branch == 'main' }}", "success() && (git.branch == 'main')"),
        ("${{ always() }}", "always()"),
        ("failure() || git.branch == 'x'", "failure() || git.branch == 'x'"),
        ("  ", "success()"),
    ],
)
def test_condition_strips_markers_and_adds_success_unless_status_used(
    written: str, expression: str
) -> None:
    assert condition(written) == expression


def test_condition_with_markers_inside_text_is_a_truthy_string_as_on_github() -> None:
    expr = condition("${{ false }} && true")
    assert evaluate(expr, {}) == "false && true"


def test_uses_status_function_finds_calls_anywhere() -> None:
    assert uses_status_function("git.x == 1 || !Cancelled()")
    assert not uses_status_function("'success()' == git.x")
    assert not uses_status_function("git.success")


# -- referenced paths ----------------------------------------------------------------------


def test_referenced_paths_lists_every_context_path_read() -> None:
    expr = (
        "contains(github.event.pull_request.title, 'x') && "
        "event.commits[0].message || event.commits.*.author['name'] || "
        "toJSON(inputs) || matrix[env.KEY].x"
    )
    assert referenced_paths(expr) == [
        "github.event.pull_request.title",
        "event.commits.0.message",
        "event.commits.*.author.name",
        "inputs",
        "matrix.*.x",
        "env.KEY",
    ]


def test_referenced_paths_mark_indexes_that_could_hide_an_element_number() -> None:
    expr = "e.c[1.7].m || e.c[' 0x01 '].m || e.c[true].m || e.c[-1].m || e.c['2'].m || e['x y']"
    assert referenced_paths(expr) == ["e.c.1.m", "e.c.*.m", "e.c.2.m", "e.x y"]


def test_referenced_paths_of_literal_only_expression_is_empty() -> None:
    assert referenced_paths("format('{0}', 1)") == []
    assert referenced_paths("") == []
