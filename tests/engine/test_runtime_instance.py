"""A task instance run by the Runner: its logs and records under its key, its
``matrix`` and ``needs`` contexts, and its ``outputs`` rendered after its steps."""

from __future__ import annotations

from pathlib import Path

from scd_core.lifecycle_keys import log_key
from scd_core.models import StepState
from scd_core.sinks.file import FileLogSink
from scd_engine.plan import compile_plan
from scd_engine.runtime import Runner, RunnerOptions
from scd_engine.spec import load_pipeline

SPEC = """\
tasks:
  a: {steps: [{run: x}], outputs: {v: "1"}}
  b:
    needs: a
    matrix: {node: [18, 20]}
    steps:
      - id: show
        run: |
          echo "node=${{ matrix.node }} from=${{ needs.a.outputs.v }}"
          echo "built=n${{ matrix.node }}" >> "$SCD_OUTPUT"
    outputs:
      built: ${{ steps.show.outputs.built }}
"""


def test_an_instance_runs_with_its_contexts_and_logs_under_its_key(tmp_path: Path) -> None:
    plan = compile_plan(load_pipeline(tmp_path / "p.yaml", SPEC))
    sink = FileLogSink(tmp_path / "logs")
    seen: list[StepState] = []
    workspace = tmp_path / "ws"
    workspace.mkdir()
    options = RunnerOptions(
        workspace,
        sink=sink,
        run_id="r1",
        instance="b (20)",
        matrix={"node": 20},
        needs={"a": {"result": "success", "outputs": {"v": "1"}}},
        observers=[seen.append],
    )
    result = Runner(options).run(plan.task("b"))
    assert result.status == "success"
    assert result.outputs == {"built": "n20"}
    assert {state.task for state in seen} == {"b (20)"}
    text = sink.read("r1", log_key("b (20)", "show")).data.decode()
    assert "node=20 from=1" in text
    assert "show" not in sink.steps("r1")  # never under the default task's key
