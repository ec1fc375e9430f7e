"""The graph of a pipeline's tasks, checked on the raw YAML: needs, ids, cycles.

Contract: :func:`graph_problems` reads the ``tasks`` mapping as parsed (any
shape: values of the wrong type are skipped, the model reports them) and
reports, through ``add_at(loc, message, key=...)``, every ``needs`` entry naming
no task (with a did-you-mean), every task id differing from another only in
letter case (GitHub compares them so), and each cycle once, named in order
(``a -> b -> a``) at the key of the task where it was entered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scd_engine.spec.problems import did_you_mean
from scd_engine.spec.yamlsource import Loc

__all__ = ["graph_problems", "needs_of"]


def needs_of(task: Any) -> list[str]:
    """The ``needs`` of a raw task as a list of strings (one id may be written alone)."""
    if not isinstance(task, dict):
        return []
    needs = task.get("needs")
    if isinstance(needs, str):
        return [needs]
    return [n for n in needs if isinstance(n, str)] if isinstance(needs, list) else []


def graph_problems(tasks: dict[Any, Any], add_at: Callable[..., None]) -> None:
    """Report every problem of the graph ``tasks`` forms (see the module docstring)."""
    ids = [str(t) for t in tasks]
    lower: dict[str, str] = {}
    for task_id in ids:
        if task_id.lower() in lower:
            first = lower[task_id.lower()]
            add_at(
                ("tasks", task_id),
                f"task id '{task_id}' differs from '{first}' only in "
                "letter case; needs compare ids ignoring case",
                key=True,
            )
        lower.setdefault(task_id.lower(), task_id)
    graph: dict[str, list[str]] = {}
    for task_id, task in tasks.items():
        raw = task.get("needs") if isinstance(task, dict) else None
        known: list[str] = []
        for position, need in enumerate(needs_of(task)):
            loc: Loc = ("tasks", task_id, "needs") + ((position,) if isinstance(raw, list) else ())
            if need.lower() not in lower:
                hint = did_you_mean(need, tuple(ids)) or f"; tasks: {', '.join(ids)}"
                add_at(loc, f"task '{task_id}' needs '{need}', which is no task{hint}")
            else:
                known.append(lower[need.lower()])
        graph[str(task_id)] = known
    for cycle in _cycles(graph):
        add_at(
            ("tasks", cycle[0]),
            "the needs of these tasks form a cycle: "
            + " -> ".join(cycle)
            + "; hint: a task cannot wait for itself",
            key=True,
        )


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each cycle of ``graph`` once, as the path that closes it (``[a, b, a]``)."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = [*path[path.index(node) :], node]
            if frozenset(cycle) not in seen:
                seen.add(frozenset(cycle))
                found.append(cycle)
            return
        if node in done:
            return
        path.append(node)
        for need in graph.get(node, []):
            visit(need, path)
        path.pop()
        done.add(node)

    for node in graph:
        visit(node, [])
    return found
