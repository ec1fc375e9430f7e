"""Only the lifecycle writes a run's or a task's status: an AST scan of libs/ and functions/.

What counts as a write, outside ``scd_core/lifecycle*.py``:

- a call of ``.update_run(...)`` (the one way to change a stored run, and so its
  tasks), except in the store backends that implement it;
- an assignment to ``<x>.status`` (plain, augmented, annotated, in a tuple or a
  chain) or to ``<x>.tasks``, unless ``x`` is provably a ``StepState`` in that
  function (a parameter or variable annotated ``StepState``, bound to
  ``StepState(...)``, to a step's ``model_copy(...)``, or a loop over
  ``list_steps(...)``), or the module is the engine's or an invoker's, which never
  import ``Run`` or ``TaskState`` (also checked here: an invoker's own task records,
  FC's async tasks or the local queue's, have statuses of their own);
- ``Run(...)`` or ``TaskState(...)`` called with ``status=``, a
  ``model_copy(update={"status": ...})`` of anything but a step (the store backends
  may copy a run to normalise it, or stand in for a record they cannot decode: they
  show what is stored), and
  ``setattr(x, "status", ...)``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_STORE_BACKENDS = ("libs/core/scd_core/store.py", "libs/core/scd_core/stores/")
_ENGINE = "libs/engine/"
_RUNLESS = (_ENGINE, "libs/core/scd_core/invokers/")


def _is_step_annotation(node: ast.expr | None) -> bool:
    if node is None:
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.split(".")[-1] == "StepState"
    if isinstance(node, ast.Name):
        return node.id == "StepState"
    return isinstance(node, ast.Attribute) and node.attr == "StepState"


def _call_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return None


class _Scanner(ast.NodeVisitor):
    """Collects status writes of one module; see the module docstring."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.engine = path.startswith(_RUNLESS)
        self.store_backend = path.startswith(_STORE_BACKENDS)
        self.steps: list[set[str]] = [set()]
        self.found: list[str] = []

    def _flag(self, node: ast.AST, what: str) -> None:
        self.found.append(f"{self.path}:{getattr(node, 'lineno', 0)}: {what}")

    def _is_step(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id in self.steps[-1]

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        steps = {arg.arg for arg in args if _is_step_annotation(arg.annotation)}
        self.steps.append(steps | self._bound_steps(node))
        self.generic_visit(node)
        self.steps.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node)

    def _bound_steps(self, node: ast.AST) -> set[str]:
        """Names bound to a StepState in this function (two passes reach copies of copies)."""
        steps: set[str] = set()
        for _ in range(2):
            for sub in ast.walk(node):
                if isinstance(sub, ast.AnnAssign) and isinstance(sub.target, ast.Name):
                    if _is_step_annotation(sub.annotation):
                        steps.add(sub.target.id)
                elif isinstance(sub, ast.Assign) and self._makes_step(sub.value, steps):
                    steps.update(t.id for t in sub.targets if isinstance(t, ast.Name))
                elif (
                    isinstance(sub, ast.For)
                    and _call_name(sub.iter) == "list_steps"
                    and isinstance(sub.target, ast.Name)
                ):
                    steps.add(sub.target.id)
        return steps

    @staticmethod
    def _makes_step(value: ast.expr, steps: set[str]) -> bool:
        if _call_name(value) == "StepState":
            return True
        return (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr == "model_copy"
            and isinstance(value.func.value, ast.Name)
            and value.func.value.id in steps
        )

    def _targets(self, targets: list[ast.expr], node: ast.AST) -> None:
        for target in targets:
            if isinstance(target, ast.Tuple | ast.List):
                self._targets(list(target.elts), node)
            elif (
                isinstance(target, ast.Attribute)
                and target.attr in ("status", "tasks")
                and not (self.engine or self._is_step(target.value))
            ):
                self._flag(node, f"assigns .{target.attr} of {ast.unparse(target.value)}")

    def visit_Assign(self, node: ast.Assign) -> None:
        self._targets(node.targets, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._targets([node.target], node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._targets([node.target], node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node)
        keywords = {kw.arg for kw in node.keywords}
        if name == "update_run" and isinstance(node.func, ast.Attribute):
            if not self.store_backend:
                self._flag(node, "calls update_run")
        elif name in ("Run", "TaskState") and "status" in keywords and not self.store_backend:
            self._flag(node, f"builds a {name} with status=")
        elif name == "model_copy" and isinstance(node.func, ast.Attribute):
            exempt = self.engine or self.store_backend or self._is_step(node.func.value)
            if not exempt and _updates_status(node):
                self._flag(node, "model_copy(update={'status': ...})")
        elif name == "setattr" and len(node.args) >= 2:
            field = node.args[1]
            if isinstance(field, ast.Constant) and field.value in ("status", "tasks"):
                self._flag(node, f"setattr(..., {field.value!r})")
        self.generic_visit(node)


def _updates_status(node: ast.Call) -> bool:
    for keyword in node.keywords:
        if keyword.arg == "update" and isinstance(keyword.value, ast.Dict):
            keys = keyword.value.keys
            if any(isinstance(k, ast.Constant) and k.value in ("status", "tasks") for k in keys):
                return True
    return False


def scan(source: str, path: str) -> list[str]:
    """The status writes in ``source`` (of repository path ``path``)."""
    scanner = _Scanner(path)
    scanner.visit(ast.parse(source))
    return scanner.found


def _modules() -> Iterator[tuple[str, str]]:
    for top in ("libs", "functions"):
        for file in sorted((ROOT / top).rglob("*.py")):
            path = file.relative_to(ROOT).as_posix()
            if "/.venv/" in path or path.startswith("libs/core/scd_core/lifecycle"):
                continue
            yield path, file.read_text(encoding="utf-8")


def test_no_module_but_the_lifecycle_writes_a_run_or_task_status() -> None:
    modules = list(_modules())
    assert any(path == "functions/worker/execute.py" for path, _ in modules)  # the scan sees
    found = [write for path, source in modules for write in scan(source, path)]
    assert found == []


def test_the_engine_and_the_invokers_never_hold_a_run_or_a_task_state() -> None:
    for path, source in _modules():
        if not path.startswith(_RUNLESS):
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module == "scd_core.models":
                names = {alias.name for alias in node.names}
                assert not names & {"Run", "TaskState"}, path


def test_the_scan_finds_each_kind_of_status_write() -> None:
    source = '''
def end(store, run, task):
    run.status = "success"
    run.status, run.finished_at = "error", None
    run.message = run.status = "x"
    task.status += "x"
    run.tasks = []
    store.update_run(run)
    copy = run.model_copy(update={"status": "error"})
    setattr(run, "status", "error")
    Run(id="r", status="running")
    TaskState(id="t", status="running")
'''
    found = scan(source, "functions/worker/sneaky.py")
    assert [line.split(": ", 1)[1] for line in found] == [
        "assigns .status of run",
        "assigns .status of run",
        "assigns .status of run",
        "assigns .status of task",
        "assigns .tasks of run",
        "calls update_run",
        "model_copy(update={'status': ...})",
        "setattr(..., 'status')",
        "builds a Run with status=",
        "builds a TaskState with status=",
    ]


def test_the_scan_lets_steps_be_written() -> None:
    source = '''
def conclude(state: StepState, store):
    state.status = state.outcome = "success"
    fresh = StepState(id="s")
    fresh.status = "running"
    for step in store.list_steps("r"):
        ended = step.model_copy()
        ended.status = "skipped"
        store.put_step("r", step.model_copy(update={"status": "error"}))
'''
    assert scan(source, "functions/worker/fine.py") == []
