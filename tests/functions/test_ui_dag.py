"""The run page's DAG layout: columns by needs, a row per instance, edges between them."""

from __future__ import annotations

from scd_core.models import TaskState

from functions.trigger.ui.dag import dag_layout


def state(instance: str, needs: list[str], status: str = "queued") -> TaskState:
    task = instance.split(" ")[0]
    made = TaskState.model_validate({"id": instance, "task": task, "needs": needs})
    made.status = status  # type: ignore[assignment]
    return made


def test_a_diamond_is_laid_out_in_columns_by_needs_with_an_edge_per_pair() -> None:
    tasks = [
        state("a", [], "success"),
        state("b (1)", ["a"], "running"),
        state("b (2)", ["a"], "failure"),
        state("c", ["a"]),
        state("d", ["b", "c"]),
    ]
    dag = dag_layout(tasks)
    assert dag is not None
    boxes = {box["id"]: box for box in dag["boxes"]}
    xs = {key: box["x"] for key, box in boxes.items()}
    assert xs["a"] < xs["b (1)"] == xs["b (2)"] == xs["c"] < xs["d"]
    assert len({boxes[i]["y"] for i in ("b (1)", "b (2)", "c")}) == 3  # one row each
    assert boxes["b (2)"]["status"] == "failure"
    assert len(dag["edges"]) == 3 + 3  # a→each of b, b, c; each of b, b, c→d
    right = max(box["x"] + box["w"] for box in boxes.values())
    assert dag["width"] >= right
    assert dag["height"] >= max(box["y"] + box["h"] for box in boxes.values())


def test_a_run_of_one_default_task_has_no_graph() -> None:
    assert dag_layout([TaskState()]) is None
    assert dag_layout([]) is None
