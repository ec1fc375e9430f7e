"""The Runner's shape: one options object, any number of observers, one plan task per run."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from pathlib import Path

import pytest
from scd_core.logs import strip_timestamps
from scd_core.masking import Masker
from scd_core.models import DEFAULT_TASK, StepState
from scd_core.sinks.memory import MemoryLogSink
from scd_engine.plan import Plan, PlanTask, compile_plan
from scd_engine.runtime import Observers, Runner, RunnerOptions
from scd_engine.spec import load_pipeline

TWO_STEPS = "steps:\n  - {id: a, run: 'echo one'}\n  - {id: b, run: 'echo two'}\n"


def plan_task(tmp_path: Path, text: str = TWO_STEPS) -> PlanTask:
    path = tmp_path / "serverless-pipeline.yaml"
    path.write_text(text)
    return compile_plan(load_pipeline(path)).task(DEFAULT_TASK)


def changes(states: list[StepState]) -> list[tuple[str, str]]:
    return [(s.id, s.status) for s in states]


def test_every_observer_hears_every_change_in_order(tmp_path: Path) -> None:
    first: list[StepState] = []
    second: list[StepState] = []
    options = RunnerOptions(
        tmp_path, sink=MemoryLogSink(), run_id="r1", observers=[first.append, second.append]
    )
    result = Runner(options).run(plan_task(tmp_path))
    assert result.status == "success"
    expected = [
        ("a", "pending"),
        ("b", "pending"),
        ("a", "running"),
        ("a", "success"),
        ("b", "running"),
        ("b", "success"),
    ]
    assert changes(first) == changes(second) == expected


def test_each_observer_gets_its_own_copy_of_a_state(tmp_path: Path) -> None:
    seen: list[StepState] = []

    def meddler(state: StepState) -> None:
        state.status = "error"
        state.outputs["planted"] = "x"

    text = "steps:\n  - {id: a, run: 'echo v=1 >> $SCD_OUTPUT'}\n"
    options = RunnerOptions(
        tmp_path, sink=MemoryLogSink(), run_id="r1", observers=[meddler, seen.append]
    )
    result = Runner(options).run(plan_task(tmp_path, text))
    assert changes(seen) == [("a", "pending"), ("a", "running"), ("a", "success")]
    assert seen[-1].outputs == {"v": "1"}
    assert result.steps[0].status == "success"
    assert result.steps[0].outputs == {"v": "1"}


def test_a_failing_observer_is_logged_and_neither_stops_the_others_nor_the_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before: list[StepState] = []
    after: list[StepState] = []

    def broken(state: StepState) -> None:
        raise RuntimeError("the store is down")

    options = RunnerOptions(
        tmp_path,
        sink=MemoryLogSink(),
        run_id="r1",
        observers=[before.append, broken, after.append],
    )
    with caplog.at_level(logging.ERROR, logger="scd.engine"):
        result = Runner(options).run(plan_task(tmp_path))
    assert result.status == "success"
    assert [s.status for s in result.steps] == ["success", "success"]
    assert changes(before) == changes(after)
    assert len(after) == 6
    failures = [r for r in caplog.records if r.name == "scd.engine"]
    assert len(failures) == 6
    assert "broken" in failures[0].getMessage()
    assert "step a (pending)" in failures[0].getMessage()
    assert failures[0].exc_info is not None
    assert "the store is down" in str(failures[0].exc_info[1])


def test_an_observer_added_with_observe_hears_the_run_too(tmp_path: Path) -> None:
    given: list[StepState] = []
    added: list[StepState] = []
    runner = Runner(
        RunnerOptions(tmp_path, sink=MemoryLogSink(), run_id="r1", observers=(given.append,))
    )
    runner.observe(added.append)
    runner.run(plan_task(tmp_path))
    assert len(runner.observers) == 2
    assert changes(given) == changes(added)
    assert len(added) == 6


def test_the_observers_fan_out_works_alone_and_in_registration_order() -> None:
    calls: list[str] = []
    observers = Observers([lambda s: calls.append(f"1:{s.id}")])
    observers.add(lambda s: calls.append(f"2:{s.id}"))
    observers.emit(StepState(id="x"))
    assert calls == ["1:x", "2:x"]


def test_options_defaults_give_a_runner_its_own_cancel_event_and_masker(tmp_path: Path) -> None:
    options = RunnerOptions(tmp_path, sink=MemoryLogSink(), run_id="r1")
    assert options.cancel is None
    assert options.observers == ()
    assert options.grace == 10.0
    first, second = Runner(options), Runner(options)
    assert first.cancel is not second.cancel
    assert first.masker is not second.masker
    assert not first.cancel.is_set()


def test_the_given_cancel_event_and_masker_are_the_ones_the_run_uses(tmp_path: Path) -> None:
    cancel = threading.Event()
    masker = Masker()
    sink = MemoryLogSink()
    options = RunnerOptions(
        tmp_path,
        sink=sink,
        run_id="r1",
        cancel=cancel,
        masker=masker,
        secrets={"TOKEN": "s3cr3t-value"},
    )
    runner = Runner(options)
    assert runner.cancel is cancel
    assert runner.masker is masker
    assert masker.mask("say s3cr3t-value") != "say s3cr3t-value"
    cancel.set()
    result = runner.run(plan_task(tmp_path))
    assert result.status == "cancelled"
    assert [s.status for s in result.steps] == ["cancelled", "cancelled"]


def test_options_reach_the_contexts_and_the_environment(tmp_path: Path) -> None:
    text = (
        "env: {FROM_PIPELINE: p}\n"
        "steps:\n"
        "  - id: a\n"
        "    env: {TARGET: '${{ inputs.target }}'}\n"
        '    run: echo "$TARGET ${{ app.name }} ${{ task.id }}'
        ' $EXTRA $FROM_PIPELINE"\n'
    )
    sink = MemoryLogSink()
    options = RunnerOptions(
        tmp_path,
        sink=sink,
        run_id="r9",
        inputs={"target": "prod"},
        env={"EXTRA": "x", "FROM_PIPELINE": "overridden"},
        app={"name": "web"},
    )
    result = Runner(options).run(plan_task(tmp_path, text))
    assert result.status == "success"
    assert strip_timestamps(sink.read("r9", "a").data).decode() == "prod web r9 x p\n"


def test_a_runner_runs_one_task_once(tmp_path: Path) -> None:
    runner = Runner(RunnerOptions(tmp_path, sink=MemoryLogSink(), run_id="r1"))
    task = plan_task(tmp_path)
    runner.run(task)
    with pytest.raises(RuntimeError, match="one task once"):
        runner.run(task)


def test_step_states_name_the_task_they_belong_to(tmp_path: Path) -> None:
    seen: list[StepState] = []
    task = dataclasses.replace(plan_task(tmp_path), id="build")
    options = RunnerOptions(tmp_path, sink=MemoryLogSink(), run_id="r1", observers=[seen.append])
    result = Runner(options).run(task)
    assert {s.task for s in result.steps} == {"build"}
    assert {s.task for s in seen} == {"build"}


def test_a_plan_read_back_from_json_runs_as_the_compiled_one_does(tmp_path: Path) -> None:
    text = (
        "steps:\n"
        "  - {id: a, run: 'echo v=${{ 1 == 1 }} >> $SCD_OUTPUT'}\n"
        "  - {id: b, if: failure(), run: 'echo not me'}\n"
        "  - {id: c, run: 'echo ${{ steps.a.outputs.v }}'}\n"
    )
    path = tmp_path / "serverless-pipeline.yaml"
    path.write_text(text)
    plan = compile_plan(load_pipeline(path))
    again = Plan.from_data(json.loads(json.dumps(plan.to_data())))
    results = []
    for run_id, which in (("r1", plan), ("r2", again)):
        sink = MemoryLogSink()
        options = RunnerOptions(tmp_path, sink=sink, run_id=run_id)
        result = Runner(options).run(which.task(DEFAULT_TASK))
        log = strip_timestamps(sink.read(run_id, "c").data).decode()
        results.append(([(s.id, s.status, s.outputs) for s in result.steps], log))
    assert results[0] == results[1]
    assert results[0][1] == "true\n"
    assert [status for _, status, _ in results[0][0]] == ["success", "skipped", "success"]
