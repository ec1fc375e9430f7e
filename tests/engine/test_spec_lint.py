"""lint_pipeline: every problem at once, each at the line and column of its YAML node."""

from __future__ import annotations

from scd_core.errors import Problem
from scd_engine.spec import CONTEXTS, lint_pipeline


def lint(text: str) -> list[Problem]:
    return lint_pipeline("p.yaml", text)


def where(problems: list[Problem]) -> list[tuple[int, int, str]]:
    return [(p.line, p.column, p.severity) for p in problems]


def test_a_valid_pipeline_has_no_problems() -> None:
    text = (
        "name: ok\nenv: {A: '1'}\nsteps:\n  - id: build\n    run: make\n"
        "  - run: echo \"$V\"\n    env: {V: '${{ steps.build.outputs.v }}'}\n"
        "    if: steps.build.outcome == 'success'\n"
    )
    assert lint(text) == []


def test_yaml_syntax_error_is_located_and_has_a_hint() -> None:
    problems = lint("steps:\n  - run: echo\n\tshell: sh\n")
    assert len(problems) == 1
    assert (problems[0].line, problems[0].column) == (3, 1)
    assert "YAML syntax error" in problems[0].message
    assert "hint: YAML indents with spaces, not tabs" in problems[0].message


def test_colon_in_a_plain_value_gets_a_quoting_hint() -> None:
    problems = lint("steps:\n  - run: echo a: b\n")
    assert problems[0].line == 2
    assert "quote a value" in problems[0].message


def test_an_empty_file_and_a_list_at_top_level_are_errors() -> None:
    assert "the file is empty" in lint("")[0].message
    problems = lint("- run: make\n")
    assert problems[0].message.startswith("the pipeline must be a mapping with a 'steps' list")
    assert (problems[0].line, problems[0].column) == (1, 1)


def test_unknown_keys_are_located_at_the_key_with_did_you_mean() -> None:
    problems = lint("stpes:\n  - run: a\nsteps:\n  - rnu: make\n    timout-minutes: 3\n")
    messages = [p.message for p in problems]
    assert messages == [
        "unknown key 'stpes' at top level; did you mean 'steps'?",
        "unknown key 'rnu' in step 1; did you mean 'run'?",
        "unknown key 'timout-minutes' in step 1; did you mean 'timeout-minutes'?",
    ]
    assert where(problems) == [(1, 1, "error"), (4, 5, "error"), (5, 5, "error")]


def test_an_unknown_key_far_from_any_known_one_lists_the_known_keys() -> None:
    problems = lint("steps:\n  - run: a\n    zzz: 1\n")
    assert "known keys: id, name, if" in problems[0].message


def test_missing_and_empty_steps_are_errors_with_hints() -> None:
    missing = lint("name: x\n")
    assert missing[0].message.startswith("missing required key 'steps'")
    assert "steps: [{run: make test}]" in missing[0].message
    assert all("\n" not in p.message for p in missing + lint(""))
    assert "'steps' is empty" in lint("steps: []\n")[0].message


def test_wrong_types_name_the_key_and_the_yaml_type() -> None:
    problems = lint(
        "steps:\n  - run: [a, b]\n  - run: x\n    env: {A: [1]}\n"
        "  - run: x\n    timeout-minutes: 0\n  - run: x\n    continue-on-error: maybe\n"
    )
    assert [p.message for p in problems] == [
        "'run' must be a string, not a list",
        "an env value must be a string, number or boolean, not a list",
        "'timeout-minutes' must be a positive number or a ${{ }} expression, not 0",
        "'continue-on-error' must be true, false or a ${{ }} expression, not 'maybe'",
    ]
    assert where(problems) == [(2, 10, "error"), (4, 14, "error"), (6, 22, "error"),
                               (8, 24, "error")]  # fmt: skip


def test_a_step_written_as_a_bare_string_suggests_run() -> None:
    problem = lint("steps:\n  - make test\n")[0]
    assert problem.message.endswith("did you mean '- run: make test'?")
    assert (problem.line, problem.column) == (2, 5)


def test_a_step_needs_exactly_one_kind() -> None:
    problems = lint("steps:\n  - name: nothing\n  - run: a\n    script: b\n")
    assert problems[0].message == "a step needs exactly one of run, uses, script"
    assert (problems[0].line, problems[0].column) == (2, 5)
    assert problems[1].message.endswith("this one has run and script")
    assert (problems[1].line, problems[1].column) == (4, 5)


def test_both_spellings_of_an_aliased_key_are_an_error() -> None:
    problems = lint("steps:\n  - uses: a\n    plugin: b\n    with: {}\n    inputs: {}\n")
    assert [p.message for p in problems] == [
        "give 'uses' or 'plugin' (serverless-cd's spelling), not both",
        "give 'with' or 'inputs' (serverless-cd's spelling), not both",
    ]
    assert where(problems) == [(3, 5, "error"), (5, 5, "error")]


def test_shell_and_with_only_fit_their_step_kinds() -> None:
    problems = lint("steps:\n  - uses: cache\n    shell: bash\n  - run: x\n    with: {a: 1}\n")
    assert [p.message for p in problems] == [
        "'shell' applies only to run steps",
        "'with' applies only to uses steps",
    ]
    assert where(problems) == [(3, 5, "error"), (5, 5, "error")]


def test_an_unknown_shell_suggests_the_closest() -> None:
    problem = lint("steps:\n  - run: x\n    shell: pyhton\n")[0]
    assert (
        problem.message
        == "'shell' must be one of bash, sh, python, not 'pyhton'; did you mean 'python'?"
    )


def test_ids_must_be_identifiers_and_unique() -> None:
    problems = lint(
        "steps:\n  - id: a b\n    run: x\n  - id: b\n    run: x\n  - id: b\n    run: y\n"
    )
    assert problems[0].message.startswith("step id 'a b' is not an identifier")
    assert problems[1].message == "duplicate step id 'b' (step 2 has it too)"
    assert where(problems) == [(2, 9, "error"), (6, 9, "error")]


def test_duplicate_yaml_keys_are_errors_at_the_second_key() -> None:
    problems = lint("steps:\n  - run: a\n    run: b\n")
    assert problems[0].message.startswith("duplicate key 'run' (first at line 2)")
    assert (problems[0].line, problems[0].column) == (3, 5)


def test_merge_keys_are_not_duplicates() -> None:
    text = "x-base: &base {run: a, shell: sh}\nsteps:\n  - <<: *base\n    run: b\n"
    messages = [p.message for p in lint(text)]
    assert messages == ["unknown key 'x-base' at top level; known keys: name, env, steps, tasks"]


def test_invalid_expression_syntax_is_located_at_the_expression() -> None:
    problems = lint("steps:\n  - run: echo ${{ 1 + }}\n    name: 'n ${{ a.b( }}'\n")
    assert [(p.line, p.column) for p in problems] == [(2, 15), (3, 14)]
    assert problems[0].message.startswith("invalid expression ${{ 1 + }} in 'run':")


def test_expressions_are_checked_in_every_templated_field() -> None:
    text = (
        "name: ${{ (( }}\nenv: {A: '${{ ) }}'}\nsteps:\n  - uses: p\n"
        "    with: {k: ['${{ [ }}', {d: '${{ ! }}'}]}\n"
        "  - run: x\n    working-directory: ${{ , }}\n    if: ${{ ( }}\n"
        "  - script: print('${{ ] }}')\n    timeout-minutes: ${{ ] }}\n"
    )
    problems = lint(text)
    assert len(problems) == 8
    assert all("invalid expression" in p.message for p in problems)


def test_an_unclosed_expression_is_an_error() -> None:
    problem = lint("steps:\n  - run: echo ${{ git.branch\n")[0]
    assert "not closed" in problem.message


def test_unknown_context_names_are_errors_with_did_you_mean() -> None:
    problems = lint("steps:\n  - run: echo ${{ gti.branch }} ${{ github.sha }} ${{ zz }}\n")
    assert problems[0].message == "unknown context 'gti'; did you mean 'git'?"
    assert problems[1].message.startswith("unknown context 'github'; hint: use git for")
    assert problems[2].message.startswith("unknown context 'zz'; known contexts: git, event")
    assert set(CONTEXTS) == {"git", "event", "env", "secrets", "steps", "inputs", "matrix",
                             "needs", "task", "app", "vars", "runner", "job", "sts"}  # fmt: skip


def test_unknown_functions_are_errors() -> None:
    problem = lint("steps:\n  - run: x\n    if: sucess()\n")[0]
    assert "Unrecognized function: 'sucess'" in problem.message


def test_an_unknown_function_close_to_a_built_in_one_gets_did_you_mean() -> None:
    typo, camel, far = lint(
        "steps:\n  - run: x\n    if: alwayz()\n"
        "  - run: y\n    if: startswit('a', 'b')\n"
        "  - run: z\n    if: frobnicate()\n"
    )
    assert typo.message.endswith("; did you mean 'always()'?")
    assert camel.message.endswith("; did you mean 'startsWith()'?")
    assert "did you mean" not in far.message


def test_steps_must_refer_to_earlier_ids() -> None:
    text = (
        "steps:\n  - id: build\n    run: x\n"
        "  - run: echo ${{ steps.build.outputs.v }} ${{ steps.biuld.outcome }}\n"
        "    if: steps.deploy.outcome == 'success'\n  - id: deploy\n    run: y\n"
    )
    problems = lint(text)
    assert where(problems) == [(4, 44, "warning"), (5, 9, "warning")]
    assert problems[0].message.startswith("steps.biuld refers to no earlier step")
    assert problems[0].message.endswith("did you mean 'build'?")


def test_an_if_mixing_text_and_an_expression_is_a_warning() -> None:
    problems = lint("steps:\n  - run: x\n    if: ${{ success() }} && false\n")
    assert where(problems) == [(3, 9, "warning")]
    assert "always true" in problems[0].message


def test_status_functions_outside_if_are_a_warning() -> None:
    problems = lint("steps:\n  - run: echo ${{ success() }}\n")
    assert where(problems) == [(2, 15, "warning")]


def test_literal_block_expressions_are_located_on_their_own_line() -> None:
    text = "steps:\n  - run: |\n      echo one\n      echo ${{ 1 + }}\n"
    problem = lint(text)[0]
    assert (problem.line, problem.column) == (4, 12)


def test_problems_print_as_file_line_column_severity_message() -> None:
    problem = lint("steps:\n  - rnu: x\n")[0]
    assert str(problem) == "p.yaml:2:5: error: unknown key 'rnu' in step 1; did you mean 'run'?"


def test_a_key_yaml_reads_as_a_boolean_is_reported_by_its_spelling() -> None:
    # (a top-level on: is serverless-cd's, ignored with a warning: see test_compat_spec)
    problem = lint("steps:\n  - run: x\n    on: push\n")[0]
    assert problem.message.startswith("unknown key 'on' in step 1; hint: triggers belong")
    assert (problem.line, problem.column) == (3, 5)


def test_a_kind_key_without_a_value_is_an_error() -> None:
    problems = lint("steps:\n  - uses:\n")
    assert [p.message for p in problems] == ["'uses' needs a value"]


def test_a_non_finite_timeout_is_an_error() -> None:
    problem = lint("steps:\n  - run: x\n    timeout-minutes: .inf\n")[0]
    assert problem.message.startswith("'timeout-minutes' must be a positive number")


def test_more_than_one_yaml_document_is_an_error() -> None:
    problem = lint("steps:\n  - run: x\n---\nsteps: []\n")[0]
    assert (problem.line, problem.message.startswith("YAML syntax error")) == (3, True)
    assert "remove the extra '---'" in problem.message


def test_columns_count_characters_after_non_ascii_text() -> None:
    text = 'steps:\n  - run: "héllo wörld ${{ 1 + }}"\n  - run: ok ${{ 1 + }}\n'
    assert [(p.line, p.column) for p in lint(text)] == [(2, 23), (3, 13)]


def test_a_large_pipeline_reports_each_problem_once() -> None:
    step = "  - id: s{0}\n    run: echo ${{{{ steps.s{0}.outcome }}}}\n"
    steps = "".join(step.format(i) for i in range(300))
    problems = lint("steps:\n" + steps)
    assert len(problems) == 300  # each step reads itself, which is not an earlier step
    assert {p.severity for p in problems} == {"warning"}
