"""The ``tasks:`` form of a pipeline: its models, and the linter's checks of the graph."""

from __future__ import annotations

import pytest
from scd_core.errors import Problem, SpecError
from scd_engine.spec import lint_pipeline, load_pipeline

DIAMOND = """\
name: ci
env: {LEVEL: "1"}
tasks:
  a:
    steps:
      - id: versions
        run: echo 'list=["18","20"]' >> "$SCD_OUTPUT"
    outputs:
      list: ${{ steps.versions.outputs.list }}
  b:
    name: build
    needs: a
    matrix:
      node: ${{ fromJSON(needs.a.outputs.list) }}
      os: [linux, mac]
      fail-fast: false
      max-parallel: 2
    steps:
      - run: echo "${{ matrix.node }} ${{ matrix.os }}"
  c:
    needs: [a]
    if: ${{ needs.a.result == 'success' }}
    steps: [{run: echo c}]
  d:
    needs: [b, c]
    if: always()
    timeout-minutes: 5
    continue-on-error: true
    env: {LEVEL: "2"}
    steps: [{id: s, run: echo d}]
"""


def lint(text: str) -> list[Problem]:
    return lint_pipeline("p.yaml", text)


def errors(text: str) -> list[tuple[int, int, str]]:
    return [(p.line, p.column, p.message) for p in lint(text) if p.severity == "error"]


def test_a_diamond_with_a_matrix_and_outputs_is_valid_and_loads_located() -> None:
    assert lint(DIAMOND) == []
    pipeline = load_pipeline("p.yaml", DIAMOND)
    assert list(pipeline.tasks) == ["a", "b", "c", "d"]
    assert pipeline.tasks["b"].needs == ["a"]  # one id written alone is a list of one
    assert pipeline.tasks["d"].timeout_minutes == 5
    assert pipeline.tasks["a"].outputs == {"list": "${{ steps.versions.outputs.list }}"}
    assert str(pipeline.tasks["c"].location) == "p.yaml:21:5"
    assert str(pipeline.tasks["d"].steps[0].location) == "p.yaml:30:13"
    assert [s.key(0) for s in pipeline.all_steps()][-1] == "s"


def test_a_steps_pipeline_is_one_task_named_default() -> None:
    pipeline = load_pipeline("p.yaml", "steps: [{run: make}]\n")
    assert list(pipeline.task_specs()) == ["default"]


def test_unknown_needs_are_located_with_a_did_you_mean() -> None:
    text = (
        "tasks:\n  build: {steps: [{run: a}]}\n"
        "  test:\n    needs: [biuld, nope]\n    steps: [{run: b}]\n"
    )
    assert errors(text) == [
        (4, 13, "task 'test' needs 'biuld', which is no task; did you mean 'build'?"),
        (4, 20, "task 'test' needs 'nope', which is no task; tasks: build, test"),
    ]


def test_a_cycle_is_named_in_order_and_reported_once() -> None:
    text = (
        "tasks:\n  a: {needs: c, steps: [{run: x}]}\n  b: {needs: a, steps: [{run: x}]}\n"
        "  c: {needs: b, steps: [{run: x}]}\n  d: {needs: d, steps: [{run: x}]}\n"
    )
    found = errors(text)
    assert [m for _l, _c, m in found] == [
        "the needs of these tasks form a cycle: a -> c -> b -> a; hint: a task cannot wait "
        "for itself",
        "the needs of these tasks form a cycle: d -> d; hint: a task cannot wait for itself",
    ]
    assert [(line, col) for line, col, _m in found] == [(2, 3), (5, 3)]


def test_duplicate_task_ids_are_errors() -> None:
    text = "tasks:\n  a: {steps: [{run: x}]}\n  a: {steps: [{run: y}]}\n  A: {steps: [{run: z}]}\n"
    messages = [m for _l, _c, m in errors(text)]
    assert any(m.startswith("duplicate key 'a'") for m in messages)
    assert any("'A' differs from 'a' only in letter case" in m for m in messages)


def test_reading_needs_of_a_task_not_needed_is_an_error_where_it_is_written() -> None:
    text = (
        "tasks:\n  a: {steps: [{run: x}], outputs: {v: '1'}}\n  b: {steps: [{run: x}]}\n"
        "  c:\n    needs: [a]\n    steps:\n      - run: echo ${{ needs.a.outputs.v }}\n"
        "        env: {V: '${{ needs.b.outputs.v }}'}\n"
    )
    assert errors(text) == [
        (
            8,
            19,
            "needs.b refers to a task this task does not need; hint: add 'b' to its "
            "'needs' (a task reads the outputs and result of the tasks it needs)",
        ),
    ]


def test_needs_in_a_steps_pipeline_is_an_error() -> None:
    assert len(errors("steps:\n  - run: echo ${{ needs.x.result }}\n")) == 1


def test_every_problem_comes_at_once() -> None:
    text = (
        "tasks:\n  a:\n    needs: [zz]\n    matrix: {os: linux}\n    stepz: []\n"
        "    steps: [{run: x, rnu: y}]\n  b:\n    needs: [b]\n    steps: [{run: x}]\n"
    )
    messages = [m for _l, _c, m in errors(text)]
    assert any("needs 'zz', which is no task" in m for m in messages)
    assert any("matrix axis 'os' must be a list of values" in m for m in messages)
    assert any(m.startswith("unknown key 'stepz' in task 'a'") for m in messages)
    assert any(m.startswith("unknown key 'rnu' in step 1 of task 'a'") for m in messages)
    assert any("cycle: b -> b" in m for m in messages)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("steps: [{run: x}]\ntasks: {a: {steps: [{run: y}]}}\n", "'steps' (one task) or 'tasks'"),
        ("tasks: {}\n", "'tasks' is empty"),
        ("tasks: {a: {steps: []}}\n", "'steps' is empty"),
        ("tasks: {1a: {steps: [{run: x}]}}\n", "task id '1a' is not an identifier"),
        ("tasks: {a: {matrix: {max-parallel: 0, x: [1]}, steps: [{run: x}]}}\n", "max-parallel"),
        ("tasks: {a: {matrix: {include: 3}, steps: [{run: x}]}}\n", "list of mappings"),
        ("tasks: {a: {outputs: [1], steps: [{run: x}]}}\n", "'outputs' must be a mapping"),
    ],
)
def test_malformed_tasks_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_pipeline("p.yaml", text)
    assert any(message in p.message for p in caught.value.problems), caught.value.problems
