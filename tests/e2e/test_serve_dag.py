"""A pipeline of tasks through ``scd serve``: real git, a local queue, four workers.

Each task is its own job; whichever worker ends a task dispatches what became ready.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from e2e_support import GitRepo, ScdServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

DIAMOND = """\
tasks:
  a:
    steps:
      - id: pick
        run: echo 'greeting=hello from a' >> "$SCD_OUTPUT"
    outputs:
      greeting: ${{ steps.pick.outputs.greeting }}
  b:
    needs: a
    matrix:
      node: [18, 20]
      os: [linux, mac]
    steps:
      - run: echo "b ${{ matrix.node }} ${{ matrix.os }}"; sleep 3
  c:
    needs: a
    steps:
      - id: say
        run: echo "c heard ${{ needs.a.outputs.greeting }}"
  d:
    needs: [b, c]
    steps:
      - run: echo "d after all"
"""


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScdServer]:
    scd = ScdServer(tmp_path_factory.mktemp("dag") / "scd", workers=4)
    scd.start()
    try:
        yield scd
    finally:
        scd.stop()
        scd.client.close()


def tasks_of(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["id"]: task for task in run["tasks"]}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def task_log(scd: ScdServer, run_id: str, task: str, step: str) -> str:
    path = f"/api/v1/runs/{run_id}/tasks/{quote(task)}/steps/{step}/logs"
    answer = scd.client.get(path, headers=scd.auth)
    assert answer.status_code == 200, answer.text
    return answer.text


def test_a_diamond_with_a_matrix_fans_out_runs_in_parallel_and_fans_in(
    four: ScdServer, repo: GitRepo
) -> None:
    push = repo.commit(DIAMOND)
    run = four.wait_run(four.push(push), timeout_s=180)
    assert run["status"] == "success", (run["message"], run["tasks"], run["steps"])
    tasks = tasks_of(run)
    b = [f"b ({n}, {os})" for n in (18, 20) for os in ("linux", "mac")]
    assert sorted(tasks) == sorted(["a", *b, "c", "d"])
    assert all(task["status"] == "success" for task in tasks.values())
    assert tasks["b (20, mac)"]["matrix"] == {"node": 20, "os": "mac"}
    assert tasks["a"]["outputs"] == {"greeting": "hello from a"}
    assert tasks["d"]["needs"] == ["b", "c"]
    # the order the needs impose
    assert at(tasks["a"]["finished_at"]) <= min(at(tasks[i]["started_at"]) for i in b)
    ends = [at(tasks[i]["finished_at"]) for i in [*b, "c"]]
    assert max(ends) <= at(tasks["d"]["started_at"])
    # b's four instances ran at once on the four workers: each started before any ended
    assert max(at(tasks[i]["started_at"]) for i in b) < min(at(tasks[i]["finished_at"]) for i in b)
    # outputs across tasks, and every instance's log under its own key
    assert task_log(four, run["id"], "c", "say") == "c heard hello from a\n"
    assert task_log(four, run["id"], "b (18, mac)", "0").startswith("b 18 mac\n")
    assert f"Checked out {push.after}" in task_log(four, run["id"], "d", "setup")


def test_fail_fast_cancels_the_siblings_and_skips_the_dependants(
    four: ScdServer, repo: GitRepo
) -> None:
    spec = (
        "tasks:\n"
        "  m:\n    matrix: {n: [1, 2, 3, 4, 5, 6], max-parallel: 1}\n"
        "    steps: [{run: 'test ${{ matrix.n }} != 1'}]\n"
        "  after: {needs: m, steps: [{run: echo never}]}\n"
        "  anyway: {needs: m, if: always(), steps: [{run: echo always}]}\n"
    )
    run = four.wait_run(four.push(repo.commit(spec)), timeout_s=120)
    tasks = tasks_of(run)
    assert run["status"] == "failure", run
    assert tasks["m (1)"]["status"] == "failure"
    assert {tasks[f"m ({n})"]["status"] for n in range(2, 7)} == {"cancelled"}
    assert "fail-fast" in tasks["m (2)"]["message"]
    assert tasks["after"]["status"] == "skipped"
    assert tasks["anyway"]["status"] == "success"


def test_cancelling_a_dag_run_stops_its_running_task_and_dispatches_no_more(
    four: ScdServer, repo: GitRepo, tmp_path: Path
) -> None:
    marker = tmp_path / "later-ran"
    spec = (
        "tasks:\n"
        "  slow: {steps: [{id: nap, run: sleep 60}]}\n"
        f"  later: {{needs: slow, if: always(), steps: [{{run: touch {marker}}}]}}\n"
    )
    run_id = four.push(repo.commit(spec))

    def napping(run: dict[str, Any]) -> bool:
        return tasks_of(run).get("slow", {}).get("status") == "running" and any(
            s["id"] == "nap" and s["status"] == "running" for s in run["steps"]
        )

    four.wait_run(run_id, until=napping, timeout_s=120)
    answer = four.client.post(f"/api/v1/runs/{run_id}/cancel", headers=four.auth)
    assert answer.status_code == 202
    run = four.wait_run(run_id, timeout_s=60)
    assert run["status"] == "cancelled"
    assert tasks_of(run)["slow"]["status"] == "cancelled"
    assert "later" not in tasks_of(run)  # never decided: the run ended first
    assert not marker.exists()
