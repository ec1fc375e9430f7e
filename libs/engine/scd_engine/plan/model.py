"""The plan: a validated pipeline as plain data, what the runtime executes.

Contract: a :class:`Plan` holds tasks, each with its steps, its ``needs``
edges and its matrix axes still unexpanded; every value is JSON data (str,
numbers, booleans, None, lists, mappings), so :meth:`Plan.to_data` and
:meth:`Plan.from_data` round-trip exactly and a plan can cross a process
boundary. Expressions are kept as source text: they need the run's contexts,
so the runtime evaluates them, but the compiler has parsed and checked each one.
Building a Plan checks its graph (unique task ids, known ``needs``, no cycle)
and raises :class:`PlanError` otherwise. Instances are frozen; treat their
mappings as read-only too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from scd_core.errors import ScdError

__all__ = ["PLAN_VERSION", "Matrix", "Plan", "PlanError", "PlanStep", "PlanTask"]

PLAN_VERSION = 2
"""The shape of :meth:`Plan.to_data`; a reader refuses a newer one."""

StepKind = Literal["run", "uses", "script"]
_KINDS = ("run", "uses", "script")


class PlanError(ScdError):
    """A plan is malformed: its data does not fit the shape or its graph is broken."""

    code = "plan_error"


@dataclass(frozen=True)
class PlanStep:
    """One step, ready for the runtime.

    ``key`` names the step in logs, states and ``steps.<key>``. ``label`` is its
    name before the step runs; ``name`` is the template rendered when it starts
    (None: the label stays). ``condition`` is the ``if`` as an expression to
    evaluate (``success() && (...)`` already applied), None for plain
    ``success()``; ``after_cancel`` says whether it runs once the run is cancelled
    (it names ``always()`` or ``cancelled()``). ``body`` is the run text, the
    plugin name or the script source, by ``kind``. ``timeout_minutes`` and
    ``continue_on_error`` are values or ``${{ }}`` templates. ``location`` is
    ``file:line:column`` of the step in its spec, when known.
    """

    key: str
    index: int
    kind: StepKind
    body: str
    label: str
    name: str | None = None
    condition: str | None = None
    after_cancel: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    with_: Mapping[str, Any] = field(default_factory=dict)
    working_directory: str | None = None
    shell: str | None = None
    timeout_minutes: float | str | None = None
    continue_on_error: bool | str = False
    location: str | None = None

    def to_data(self) -> dict[str, Any]:
        """This step as JSON data (``with_`` is spelt ``with``)."""
        data = {name: getattr(self, name) for name in _STEP_FIELDS}
        data["env"], data["with"] = dict(self.env), dict(self.with_)
        del data["with_"]
        return data

    @classmethod
    def from_data(cls, data: Any) -> PlanStep:
        """The step ``to_data`` gave; :class:`PlanError` when ``data`` does not fit."""
        fields = _mapping(data, "a step")
        _known(fields, {*_STEP_FIELDS, "with"} - {"with_"}, "a step")
        if fields.get("kind") not in _KINDS:
            kind = fields.get("kind")
            raise PlanError(f"invalid plan: step kind {kind!r} is not one of {', '.join(_KINDS)}")
        for name, kind_of in (("key", str), ("body", str), ("label", str), ("index", int)):
            if not isinstance(fields.get(name), kind_of):
                raise PlanError(f"invalid plan: a step's {name} must be a {kind_of.__name__}")
        values = {name: fields[name] for name in _STEP_FIELDS if name in fields}
        values.pop("with_", None)
        values["env"] = dict(_mapping(fields.get("env", {}), "a step's env"))
        values["with_"] = dict(_mapping(fields.get("with", {}), "a step's with"))
        return _build(cls, values, "a step")


@dataclass(frozen=True)
class Matrix:
    """A task's matrix, unexpanded: ``axes`` (name → values), ``include``, ``exclude``.

    An axis's values are a tuple, or one ``${{ }}`` text evaluated when the task
    becomes ready (``fromJSON(needs.x.outputs.y)``); ``source``, when set, is one
    ``${{ }}`` text giving the whole matrix mapping. ``fail_fast`` (GitHub's
    default: true) cancels the other instances once one fails; ``max_parallel``
    caps the instances running at once (None: no cap). Empty (the default)
    means one instance with an empty ``matrix`` context.
    """

    axes: Mapping[str, tuple[Any, ...] | str] = field(default_factory=dict)
    include: tuple[Mapping[str, Any], ...] | str = ()
    exclude: tuple[Mapping[str, Any], ...] | str = ()
    fail_fast: bool | str = True
    max_parallel: int | str | None = None
    source: str | None = None

    @property
    def empty(self) -> bool:
        """True when the task has no matrix."""
        return not (self.axes or self.include or self.exclude or self.source)

    def to_data(self) -> dict[str, Any]:
        """This matrix as JSON data."""
        return {
            "axes": {k: v if isinstance(v, str) else list(v) for k, v in self.axes.items()},
            "include": _rows_data(self.include),
            "exclude": _rows_data(self.exclude),
            "fail_fast": self.fail_fast,
            "max_parallel": self.max_parallel,
            "source": self.source,
        }

    @classmethod
    def from_data(cls, data: Any) -> Matrix:
        """The matrix ``to_data`` gave; :class:`PlanError` when ``data`` does not fit."""
        fields = _mapping(data, "a matrix")
        known = {"axes", "include", "exclude", "fail_fast", "max_parallel", "source"}
        _known(fields, known, "a matrix")
        axes = _mapping(fields.get("axes", {}), "matrix axes")
        rows = {part: _rows(fields.get(part, []), part) for part in ("include", "exclude")}
        return cls(
            axes={str(k): _axis(v, k) for k, v in axes.items()},
            include=rows["include"],
            exclude=rows["exclude"],
            fail_fast=fields.get("fail_fast", True),
            max_parallel=fields.get("max_parallel"),
            source=fields.get("source"),
        )


def _axis(value: Any, name: str) -> tuple[Any, ...] | str:
    return value if isinstance(value, str) else tuple(_list(value, f"matrix axis {name!r}"))


def _rows_data(rows: tuple[Mapping[str, Any], ...] | str) -> list[dict[str, Any]] | str:
    return rows if isinstance(rows, str) else [dict(row) for row in rows]


@dataclass(frozen=True)
class PlanTask:
    """One task: its steps in order, the tasks it ``needs``, its matrix.

    ``env`` is what every step's ``env`` context starts from (the pipeline's
    ``env``, the task's own over it), as templates rendered before each step.
    ``condition`` is the task's ``if`` as an expression (None: ``success()`` of
    its needs), evaluated when its needs have ended; ``outputs`` are templates
    rendered after its last step (``needs.<id>.outputs.<name>`` downstream).
    A pipeline written as one ``steps:`` list is one task, ``default``.
    """

    id: str
    steps: tuple[PlanStep, ...]
    name: str | None = None
    needs: tuple[str, ...] = ()
    matrix: Matrix = field(default_factory=Matrix)
    env: Mapping[str, str] = field(default_factory=dict)
    condition: str | None = None
    outputs: Mapping[str, str] = field(default_factory=dict)
    timeout_minutes: float | str | None = None
    continue_on_error: bool | str = False

    def to_data(self) -> dict[str, Any]:
        """This task as JSON data."""
        return {
            "id": self.id,
            "name": self.name,
            "needs": list(self.needs),
            "matrix": self.matrix.to_data(),
            "env": dict(self.env),
            "steps": [step.to_data() for step in self.steps],
            "condition": self.condition,
            "outputs": dict(self.outputs),
            "timeout_minutes": self.timeout_minutes,
            "continue_on_error": self.continue_on_error,
        }

    @classmethod
    def from_data(cls, data: Any) -> PlanTask:
        """The task ``to_data`` gave; :class:`PlanError` when ``data`` does not fit."""
        fields = _mapping(data, "a task")
        _known(fields, {*_TASK_FIELDS, "matrix", "steps"}, "a task")
        if not isinstance(fields.get("id"), str):
            raise PlanError("invalid plan: a task's id must be a str")
        values = {
            "id": fields.get("id"),
            "name": fields.get("name"),
            "needs": tuple(_list(fields.get("needs", []), "needs")),
            "matrix": Matrix.from_data(fields.get("matrix", {})),
            "env": dict(_mapping(fields.get("env", {}), "a task's env")),
            "steps": tuple(PlanStep.from_data(s) for s in _list(fields.get("steps"), "steps")),
            "outputs": dict(_mapping(fields.get("outputs", {}), "a task's outputs")),
        }
        values.update({k: fields[k] for k in _TASK_SCALARS if k in fields})
        return _build(cls, values, "a task")


@dataclass(frozen=True)
class Plan:
    """A pipeline compiled: its name, its file, its tasks in spec order."""

    tasks: tuple[PlanTask, ...]
    name: str | None = None
    file: str | None = None

    def __post_init__(self) -> None:
        _check_graph(self.tasks)

    def task(self, task_id: str) -> PlanTask:
        """The task with id ``task_id``; :class:`PlanError` when there is none."""
        for task in self.tasks:
            if task.id == task_id:
                return task
        known = ", ".join(t.id for t in self.tasks)
        raise PlanError(f"the plan has no task {task_id!r} (it has: {known})")

    @property
    def edges(self) -> list[tuple[str, str]]:
        """``(needed, needing)`` pairs: the order the ``needs`` lists impose."""
        return [(need, task.id) for task in self.tasks for need in task.needs]

    def to_data(self) -> dict[str, Any]:
        """The plan as JSON data, with its :data:`PLAN_VERSION`."""
        return {
            "version": PLAN_VERSION,
            "name": self.name,
            "file": self.file,
            "tasks": [task.to_data() for task in self.tasks],
        }

    @classmethod
    def from_data(cls, data: Any) -> Plan:
        """The plan ``to_data`` gave; :class:`PlanError` for other data or a newer version."""
        fields = _mapping(data, "a plan")
        _known(fields, {"version", "name", "file", "tasks"}, "a plan")
        version = fields.get("version")
        if not isinstance(version, int) or version > PLAN_VERSION:
            raise PlanError(
                f"invalid plan: version {version!r}; this release reads plans up to "
                f"version {PLAN_VERSION}"
            )
        tasks = tuple(PlanTask.from_data(t) for t in _list(fields.get("tasks"), "tasks"))
        values = {"tasks": tasks, "name": fields.get("name"), "file": fields.get("file")}
        return _build(cls, values, "a plan")


_STEP_FIELDS = tuple(PlanStep.__dataclass_fields__)
_TASK_FIELDS = tuple(PlanTask.__dataclass_fields__)
_TASK_SCALARS = ("condition", "timeout_minutes", "continue_on_error")


def _check_graph(tasks: tuple[PlanTask, ...]) -> None:
    if not tasks:
        raise PlanError("invalid plan: it has no task")
    ids = [task.id for task in tasks]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PlanError(f"invalid plan: duplicate task id {duplicates[0]!r}")
    known = set(ids)
    for task in tasks:
        for need in task.needs:
            if need not in known:
                raise PlanError(f"invalid plan: task {task.id!r} needs {need!r}, which is no task")
    needs = {task.id: task.needs for task in tasks}
    done: set[str] = set()
    for start in ids:
        _visit(start, needs, done, [])


def _visit(
    task_id: str, needs: Mapping[str, tuple[str, ...]], done: set[str], path: list[str]
) -> None:
    if task_id in done:
        return
    if task_id in path:
        cycle = " -> ".join([*path[path.index(task_id) :], task_id])
        raise PlanError(f"invalid plan: the needs of its tasks form a cycle: {cycle}")
    path.append(task_id)
    for need in needs[task_id]:
        _visit(need, needs, done, path)
    path.pop()
    done.add(task_id)


def _rows(value: Any, what: str) -> tuple[dict[str, Any], ...] | str:
    if isinstance(value, str):
        return value
    return tuple(dict(_mapping(row, f"a row of {what}")) for row in _list(value, what))


def _known(fields: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(str(k) for k in fields if k not in allowed)
    if unknown:
        raise PlanError(f"invalid plan: {what} has unknown field {unknown[0]!r}")


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PlanError(f"invalid plan: {what} must be a mapping, not {type(value).__name__}")
    return cast("Mapping[str, Any]", value)


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise PlanError(f"invalid plan: {what} must be a list, not {type(value).__name__}")
    return value


_T = TypeVar("_T")


def _build(cls: type[_T], values: dict[str, Any], what: str) -> _T:
    try:
        return cls(**values)
    except TypeError as exc:
        raise PlanError(f"invalid plan: {what}: {exc}") from exc
