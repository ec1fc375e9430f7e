"""Matrix expansion by GitHub's rules, and the fan-out/fan-in decisions of ``progress``."""

from __future__ import annotations

from typing import Any

import pytest
from scd_core.models import TaskState
from scd_engine.plan import Plan, PlanError, PlanStep, PlanTask, compile_plan
from scd_engine.plan.matrix import MAX_INSTANCES, expand
from scd_engine.plan.progress import FAIL_FAST_MESSAGE, progress
from scd_engine.spec import load_pipeline

STEP = PlanStep(key="0", index=0, kind="run", body="make", label="Run make")


def task_of(text: str, task_id: str) -> PlanTask:
    return compile_plan(load_pipeline("p.yaml", text)).task(task_id)


def matrix_task(matrix: str, name: str = "") -> PlanTask:
    named = f"    name: {name}\n" if name else ""
    return task_of(f"tasks:\n  build:\n{named}    matrix: {matrix}\n    steps: [{{run: x}}]\n",
                   "build")  # fmt: skip


def ids(task: PlanTask, contexts: dict[str, Any] | None = None) -> list[str]:
    return [i.id for i in expand(task, contexts or {}).instances]


def test_axes_multiply_in_written_order_and_names_are_githubs() -> None:
    task = matrix_task("{node: [18, 20], os: [linux, mac]}", name="Build")
    settings = expand(task, {})
    assert [i.id for i in settings.instances] == [
        "build (18, linux)", "build (18, mac)", "build (20, linux)", "build (20, mac)",
    ]  # fmt: skip
    assert settings.instances[1].name == "Build (18, mac)"
    assert settings.instances[1].values == {"node": 18, "os": "mac"}
    assert settings.fail_fast is True
    assert settings.max_parallel is None


def test_exclude_removes_partial_matches_and_include_extends_or_adds() -> None:
    task = matrix_task(
        "{node: [18, 20], os: [linux, mac], exclude: [{os: mac, node: 18}],"
        " include: [{os: linux, experimental: true}, {node: 22, os: bsd}, {node: 18, os: win}]}"
    )
    instances = expand(task, {}).instances
    assert [dict(i.values) for i in instances] == [
        {"node": 18, "os": "linux", "experimental": True},
        {"node": 20, "os": "linux", "experimental": True},
        {"node": 20, "os": "mac"},
        {"node": 22, "os": "bsd"},  # fits no combination: one of its own
        {"node": 18, "os": "win"},  # would change an original value: one of its own
    ]
    assert instances[0].id == "build (18, linux, true)"


def test_an_include_only_matrix_is_one_instance_per_row() -> None:
    task = matrix_task("{include: [{site: a}, {site: b}]}")
    assert ids(task) == ["build (a)", "build (b)"]


def test_matrix_values_from_needs_outputs_through_fromjson() -> None:
    text = (
        'tasks:\n  a: {steps: [{run: x}], outputs: {nodes: \'["18", "20"]\'}}\n'
        "  b:\n    needs: a\n    matrix:\n      node: ${{ fromJSON(needs.a.outputs.nodes) }}\n"
        "    steps: [{run: x}]\n"
        "  c:\n    needs: a\n    matrix: ${{ fromJSON(needs.a.outputs.whole) }}\n"
        "    steps: [{run: x}]\n"
    )
    outputs = {"nodes": '["18", "20"]', "whole": '{"v": [1, 2], "max-parallel": 1}'}
    needs: dict[str, Any] = {"a": {"result": "success", "outputs": outputs}}
    assert ids(task_of(text, "b"), {"needs": needs}) == ["b (18)", "b (20)"]
    whole = expand(task_of(text, "c"), {"needs": needs})
    assert [i.id for i in whole.instances] == ["c (1)", "c (2)"]
    assert whole.max_parallel == 1
    outputs["nodes"] = '"x"'
    with pytest.raises(PlanError, match="matrix axis 'node' gave the text 'x', not a list"):
        expand(task_of(text, "b"), {"needs": needs})


def test_too_many_or_no_combinations_are_refused() -> None:
    with pytest.raises(PlanError, match=f"at most {MAX_INSTANCES}"):
        expand(matrix_task("{a: [1,2,3,4,5,6,7], b: [1,2,3,4,5,6,7], c: [1,2,3,4,5,6]}"), {})
    with pytest.raises(PlanError, match="no combination left"):
        expand(matrix_task("{a: [1], exclude: [{a: 1}]}"), {})


# -- progress: the DAG's decisions ----------------------------------------------------

DIAMOND = """\
tasks:
  a: {steps: [{run: x}], outputs: {v: "1"}}
  b:
    needs: a
    matrix: {node: [18, 20], os: [linux, mac]}
    steps: [{run: x}]
  c: {needs: a, steps: [{run: x}]}
  d: {needs: [b, c], steps: [{run: x}]}
  e: {needs: d, if: failure(), steps: [{run: x}]}
  f: {needs: d, if: always(), steps: [{run: x}]}
"""


def plan_of(text: str) -> Plan:
    return compile_plan(load_pipeline("p.yaml", text))


def ended(states: list[TaskState], status: str, *ids: str, **outputs: str) -> list[TaskState]:
    """``states`` with ``ids`` ended ``status`` (each task's outputs set to ``outputs``)."""
    out = []
    for state in states:
        if state.id in ids:
            state = state.model_copy(update={"status": status, "outputs": dict(outputs)})
        out.append(state)
    return out


def step(plan: Plan, states: list[TaskState]) -> tuple[list[TaskState], list[str], list[str]]:
    """Apply one decision as the lifecycle does: the new states, the ids made ready, the
    ids to stop."""
    decided = progress(plan, states, {})
    merged = {s.id: s for s in states}
    for d in decided.states:
        if d.id in merged:
            merged[d.id] = merged[d.id].model_copy(
                update={"status": d.status, "message": d.message}
            )
        else:
            fields = {"id": d.id, "task": d.task, "name": d.name, "matrix": dict(d.matrix)}
            merged[d.id] = TaskState.model_validate({**fields, "status": d.status})
            merged[d.id].message = d.message
    return list(merged.values()), [s.id for s in decided.ready], decided.stop


def test_the_diamond_fans_out_and_in_then_skips_by_condition() -> None:
    plan = plan_of(DIAMOND)
    states, ready, _ = step(plan, [])
    assert ready == ["a"]
    states, ready, _ = step(plan, ended(states, "success", "a", v="1"))
    assert ready == ["b (18, linux)", "b (18, mac)", "b (20, linux)", "b (20, mac)", "c"]
    assert next(s for s in states if s.id == "b (20, mac)").matrix == {"node": 20, "os": "mac"}
    states, ready, _ = step(plan, ended(states, "success", "b (18, linux)", "c"))
    assert ready == []  # d waits for every instance of b
    again, ready_again, _ = step(plan, states)
    assert ready_again == []
    assert again == states  # deciding twice changes nothing
    states = ended(states, "success", "b (18, mac)", "b (20, linux)", "b (20, mac)")
    states, ready, _ = step(plan, states)
    assert ready == ["d"]
    states, ready, _ = step(plan, ended(states, "success", "d"))
    assert ready == ["f"]  # e runs only on failure(): skipped, recorded so
    assert next(s for s in states if s.id == "e").status == "skipped"


def test_a_failed_need_skips_its_dependants_transitively_but_not_always() -> None:
    plan = plan_of(DIAMOND)
    states, _, _ = step(plan, [])
    states, ready, _ = step(plan, ended(states, "failure", "a"))
    by_id = {s.id: s.status for s in states}
    assert ready == ["f"]
    assert by_id["b"] == by_id["c"] == by_id["d"] == "skipped"
    assert by_id["e"] == "skipped"  # failure() of d, which was skipped, not failed
    assert by_id["f"] == "queued"  # always() runs whatever its needs did


def test_needs_result_and_outputs_reach_a_task_condition() -> None:
    text = (
        "tasks:\n  a: {steps: [{run: x}], outputs: {go: 'yes'}}\n"
        "  b: {needs: a, if: \"needs.a.outputs.go == 'no'\", steps: [{run: x}]}\n"
        "  c: {needs: a, if: \"needs.a.result == 'success' && needs.a.outputs.go == 'yes'\","
        " steps: [{run: x}]}\n"
    )
    plan = plan_of(text)
    states, _, _ = step(plan, [])
    states, ready, _ = step(plan, ended(states, "success", "a", go="yes"))
    assert ready == ["c"]
    assert {s.id: s.status for s in states}["b"] == "skipped"


def test_fail_fast_cancels_queued_siblings_and_stops_running_ones() -> None:
    plan = plan_of("tasks:\n  m: {matrix: {n: [1, 2, 3, 4]}, steps: [{run: x}]}\n")
    states, ready, _ = step(plan, [])
    assert len(ready) == 4
    states = ended(states, "running", "m (2)")
    states, ready, stop = step(plan, ended(states, "failure", "m (1)"))
    by_id = {s.id: s for s in states}
    assert stop == ["m (2)"]
    assert ready == []
    assert by_id["m (3)"].status == by_id["m (4)"].status == "cancelled"
    assert by_id["m (3)"].message == FAIL_FAST_MESSAGE.format(failed="m (1)")


def test_without_fail_fast_siblings_go_on() -> None:
    plan = plan_of("tasks:\n  m: {matrix: {n: [1, 2], fail-fast: false}, steps: [{run: x}]}\n")
    states, _, _ = step(plan, [])
    states, _, stop = step(plan, ended(states, "failure", "m (1)"))
    assert stop == []
    assert {s.id: s.status for s in states}["m (2)"] == "queued"


def test_max_parallel_holds_instances_pending_and_releases_one_per_end() -> None:
    plan = plan_of("tasks:\n  m: {matrix: {n: [1, 2, 3], max-parallel: 2}, steps: [{run: x}]}\n")
    states, ready, _ = step(plan, [])
    assert ready == ["m (1)", "m (2)"]
    assert {s.id: s.status for s in states}["m (3)"] == "pending"
    states, ready, _ = step(plan, ended(states, "success", "m (1)"))
    assert ready == ["m (3)"]


def test_a_matrix_that_cannot_be_evaluated_is_an_error_state_not_an_exception() -> None:
    text = (
        "tasks:\n  a: {steps: [{run: x}], outputs: {n: 'oops'}}\n"
        "  b: {needs: a, matrix: {n: '${{ fromJSON(needs.a.outputs.n) }}'}, steps: [{run: x}]}\n"
    )
    plan = plan_of(text)
    states, _, _ = step(plan, [])
    states, ready, _ = step(plan, ended(states, "success", "a", n="oops"))
    b = next(s for s in states if s.id == "b")
    assert ready == []
    assert b.status == "error"
    assert "fromJSON" in (b.message or "")


def test_a_plan_built_in_code_without_matrix_is_one_instance_per_task() -> None:
    plan = Plan(tasks=(PlanTask(id="x", steps=(STEP,)), PlanTask(id="y", steps=(STEP,))))
    assert [s.id for s in progress(plan, [], {}).ready] == ["x", "y"]
