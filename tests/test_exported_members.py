"""Each module's ``__all__`` names only what exists, and the libraries export their public
API from the package root (as httpx's ``tests/test_exported_members.py`` does)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

PACKAGES = ("scd_core", "scd_engine", "scd_trigger_spec", "functions")

# The public API of each library, importable from its root. Small on purpose: the
# models, errors, settings, Protocols and URL factories an integrator needs.
ROOT_API = {
    "scd_core": {
        "AuthError",
        "BackendError",
        "BadRequest",
        "ConfigError",
        "Conflict",
        "Event",
        "Forbidden",
        "Invoker",
        "Job",
        "LogSink",
        "LogWriter",
        "Masker",
        "NotFound",
        "Run",
        "RunStore",
        "ScdError",
        "Settings",
        "Status",
        "StepState",
        "TaskState",
        "open_invoker",
        "open_sink",
        "open_store",
    },
    "scd_engine": {
        "ExpressionError",
        "Pipeline",
        "Plan",
        "PlanTask",
        "RunResult",
        "Runner",
        "RunnerOptions",
        "Step",
        "compile_plan",
        "evaluate",
        "lint_pipeline",
        "load_pipeline",
        "render",
    },
    "scd_trigger_spec": {
        "PROVIDERS",
        "Accepted",
        "App",
        "CronSchedule",
        "GitProvider",
        "Ignored",
        "Pong",
        "PullRequestFilter",
        "PullRequestRule",
        "PushFilter",
        "Retry",
        "Schedule",
        "TriggerSpec",
        "accept",
        "compile_pattern",
        "detect_provider",
        "manual_event",
        "parse_cron",
        "schedule_event",
        "skip_for_paths",
        "skip_for_paths_ignore",
    },
}


def _module_names(package: str) -> list[str]:
    root = importlib.import_module(package)
    found = [package]
    found += [info.name for info in pkgutil.walk_packages(root.__path__, f"{package}.")]
    return sorted(found)


ALL_MODULES = [name for package in PACKAGES for name in _module_names(package)]


def _public_names(module: ModuleType) -> list[str]:
    """Names a module defines without a leading underscore, its submodules and
    ``annotations`` (the ``__future__`` import) aside."""
    return [
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and name != "annotations"
        and not (inspect.ismodule(value) and value.__name__.startswith(f"{module.__name__}."))
    ]


def test_the_walk_finds_every_package_and_their_modules() -> None:
    assert {"scd_core.sinks", "scd_engine.runtime.runner", "functions.appconfig.config"} <= set(
        ALL_MODULES
    )
    assert len(ALL_MODULES) > 80


@pytest.mark.parametrize("name", ALL_MODULES)
def test_all_names_only_what_the_module_has(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        # Only a package root with nothing public may go without one.
        assert hasattr(module, "__path__"), f"{name} has no __all__"
        assert _public_names(module) == [], f"{name} defines public names but no __all__"
        return
    assert all(isinstance(item, str) for item in exported)
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    missing = [item for item in exported if not hasattr(module, item)]
    assert missing == [], f"{name}.__all__ names what it lacks: {missing}"


@pytest.mark.parametrize("package", sorted(ROOT_API))
def test_libraries_export_their_public_api_from_the_root(package: str) -> None:
    module = importlib.import_module(package)
    assert set(module.__all__) == ROOT_API[package]
    for item in module.__all__:
        member = getattr(module, item)
        if inspect.isclass(member) or inspect.isfunction(member):
            # Defined in the library itself, never a dependency's object passed on.
            assert member.__module__.startswith(f"{package}."), (item, member.__module__)
            assert not item.startswith("_")


def test_an_unknown_root_attribute_is_an_attribute_error() -> None:
    import scd_core

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = scd_core.Nope  # type: ignore[attr-defined]
    assert not hasattr(scd_core, "Nope")
