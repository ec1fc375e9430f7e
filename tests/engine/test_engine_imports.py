"""The engine's stages import one way: spec -> plan -> runtime, with no circle inside."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import scd_engine

ENGINE = Path(scd_engine.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> dict[str, Path]:
    root = ENGINE / package
    return {module_name(p): p for p in sorted(root.rglob("*.py"))}


def imported(path: Path) -> set[str]:
    """Every scd_engine module ``path`` imports: at the top, in functions, under
    TYPE_CHECKING alike (a circle hidden behind TYPE_CHECKING is still a circle)."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("scd_engine"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1 packages
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            if base.startswith("scd_engine"):
                found.add(base)
    return found


def graph(package: str) -> dict[str, set[str]]:
    """Import edges between the modules of one package (a package's ``__init__`` included)."""
    own = modules(package)
    return {
        name: {m for m in imported(path) if m in own and m != name} for name, path in own.items()
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_passes_a_tree() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("package", ["runtime", "plan"])
def test_no_import_circle_inside_the_package(package: str) -> None:
    edges = graph(package)
    assert "scd_engine.runtime.runner" in edges or package != "runtime"
    assert find_cycle(edges) is None


def test_the_step_driver_knows_the_session_not_the_runner() -> None:
    edges = graph("runtime")
    assert "scd_engine.runtime.session" in edges["scd_engine.runtime.stepping"]
    assert "scd_engine.runtime.runner" not in edges["scd_engine.runtime.stepping"]
    assert "scd_engine.runtime.runner" not in edges["scd_engine.runtime.session"]


def test_the_runtime_runs_plain_data_and_never_imports_the_spec() -> None:
    checked = {**modules("runtime"), "scd_engine.plan.model": ENGINE / "plan" / "model.py"}
    for name, path in checked.items():
        spec = {m for m in imported(path) if m.startswith("scd_engine.spec")}
        assert not spec, f"{name} imports {spec}"


RUNTIME_MODULES = sorted(modules("runtime")) + sorted(modules("plan"))


@pytest.mark.parametrize("module", RUNTIME_MODULES)
def test_each_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    # A circle that only bites when a given module is imported first shows here.
    code = (
        f"import importlib, sys; importlib.import_module({module!r}); "
        "print(any(m.startswith('scd_engine.spec') for m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    loads_spec = done.stdout.strip() == "True"
    assert loads_spec == (module == "scd_engine.plan.compiler"), module
