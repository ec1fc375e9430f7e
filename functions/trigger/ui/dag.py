"""The run page's DAG: task instances laid out as boxes in columns, with their edges.

Contract: :func:`dag_layout` is pure. Given a run's recorded task instances, it
places each task (by id) in the column after the deepest task it ``needs``
(tasks without needs, or whose needs were never recorded, in column 0) and each
instance in its own row, in the order recorded, and draws an edge from every
instance of a needed task to every instance of the task needing it. The result
is plain JSON data (sizes, boxes with their status, edges as coordinates) that
the template draws as an inline SVG and ``run.js`` redraws as statuses change.
A run of one ``default`` task (or none yet) has no graph: ``None``.
"""

from __future__ import annotations

from typing import Any

from scd_core.models import DEFAULT_TASK, TaskState

__all__ = ["dag_layout"]

_W, _H, _GAP_X, _GAP_Y, _PAD = 180, 30, 48, 12, 8


def dag_layout(tasks: list[TaskState]) -> dict[str, Any] | None:
    """The graph of ``tasks`` as boxes and edges; see the module docstring."""
    if not tasks or [t.id for t in tasks] == [DEFAULT_TASK]:
        return None
    needs = {t.task: [n for n in t.needs] for t in tasks}
    depth: dict[str, int] = {}

    def depth_of(task: str, seen: frozenset[str] = frozenset()) -> int:
        if task not in depth:
            known = [n for n in needs.get(task, []) if n in needs and n not in seen]
            depth[task] = 1 + max((depth_of(n, seen | {task}) for n in known), default=-1)
        return depth[task]

    rows: dict[int, int] = {}
    boxes: dict[str, dict[str, Any]] = {}
    for state in tasks:
        column = depth_of(state.task)
        row = rows.get(column, 0)
        rows[column] = row + 1
        boxes[state.id] = {
            "id": state.id,
            "task": state.task,
            "label": state.name if state.name and state.name != state.task else state.id,
            "status": state.status,
            "x": _PAD + column * (_W + _GAP_X),
            "y": _PAD + row * (_H + _GAP_Y),
            "w": _W,
            "h": _H,
        }
    edges = [
        {"x1": a["x"] + _W, "y1": a["y"] + _H // 2, "x2": b["x"], "y2": b["y"] + _H // 2}
        for b in boxes.values()
        for a in boxes.values()
        if a["task"] in needs[b["task"]]
    ]
    width = _PAD * 2 + (max(rows) + 1) * (_W + _GAP_X) - _GAP_X
    height = _PAD * 2 + max(rows.values()) * (_H + _GAP_Y) - _GAP_Y
    return {"width": width, "height": height, "boxes": list(boxes.values()), "edges": edges}
