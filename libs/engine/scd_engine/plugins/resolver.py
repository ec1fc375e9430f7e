"""Find the plugin a ``uses:`` names.

Contract: :func:`resolve_plugin` tries, in order, (1) a built-in name
(:data:`BUILTINS`), (2) a serverless-cd plugin scd runs natively
(``@serverless-cd/cache``, ``@serverless-cd/checkout``: see
:mod:`~scd_engine.plugins.natives`), (3) an npm package (``@scope/name``,
``name@1.2``, ``npm:name``: run through the Node bridge of
:mod:`~scd_engine.plugins.node`), (4) a local path relative to the workspace
that must stay inside it: a ``.py`` file (it must define ``run``) or JavaScript
(a ``.js``/``.cjs`` file, or a directory with ``package.json`` or ``index.js``,
through the Node bridge), (5) ``module:function`` (dotted attributes allowed
after the colon), (6) an entry point named so in the group ``scd.plugins`` of an
installed distribution. It raises :class:`PluginNotFound` naming what it tried,
or :class:`PluginError` when the target exists but is not callable or fails to
import (the import error is chained).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import cast

from scd_core.errors import NotFound, ScdError

from scd_engine.plugins.context import Plugin

__all__ = ["BUILTINS", "ENTRY_POINT_GROUP", "PluginError", "PluginNotFound", "resolve_plugin"]

ENTRY_POINT_GROUP = "scd.plugins"
BUILTINS: dict[str, str] = {
    "cache": "scd_engine.plugins.cache:run",
    "notify-webhook": "scd_engine.plugins.webhook:run",
    "dingtalk": "scd_engine.plugins.notify:dingtalk",
    "wecom": "scd_engine.plugins.notify:wecom",
    "feishu": "scd_engine.plugins.notify:feishu",
    "lark": "scd_engine.plugins.notify:feishu",
    "email": "scd_engine.plugins.notify:email",
}


class PluginError(ScdError):
    """A plugin could not be loaded."""

    code = "plugin_error"


class PluginNotFound(NotFound):
    """No plugin answers to the name a step uses."""


def resolve_plugin(name: str, workspace: Path) -> Plugin:
    """The callable ``uses: name`` means, for a pipeline in ``workspace``."""
    name = name.strip()
    if name in BUILTINS:
        return _from_target(BUILTINS[name], name)
    from scd_engine.plugins.natives import native_equivalent
    from scd_engine.plugins.npm import npm_spec

    native = native_equivalent(name)
    if native is not None:
        return native
    spec = npm_spec(name)
    if spec is not None:
        from scd_engine.plugins.node import NodePlugin

        return NodePlugin(name, spec=spec)
    if name.startswith(("./", "../", "/")) and not name.endswith(".py"):
        return _javascript(name, workspace)
    if name.startswith(("./", "../", "/")) or name.endswith(".py"):
        return _from_file(name, workspace)
    if ":" in name:
        return _from_target(name, name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                loaded = ep.load()
            except Exception as exc:
                raise PluginError(f"plugin {name!r}: cannot load {ep.value}: {exc}") from exc
            return _callable(loaded, name)
    raise PluginNotFound(
        f"no plugin {name!r}: not a built-in ({', '.join(sorted(BUILTINS))}), not a local"
        f" ./path.py, not module:function, not an entry point in group {ENTRY_POINT_GROUP!r}"
    )


def _from_target(target: str, name: str) -> Plugin:
    module_name, _, attr_path = target.partition(":")
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise PluginError(f"plugin {name!r}: cannot import {module_name!r}: {exc}") from exc
    for attr in attr_path.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError as exc:
            raise PluginNotFound(f"plugin {name!r}: {module_name!r} has no {attr_path!r}") from exc
    return _callable(obj, name)


def _from_file(name: str, workspace: Path) -> Plugin:
    root = workspace.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise PluginError(f"plugin {name!r}: a local plugin must be inside the workspace")
    if not path.is_file():
        raise PluginNotFound(f"plugin {name!r}: no such file in the workspace")
    # A unique module name per file: two plugins both named notify.py stay apart.
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(f"scd_local_plugin_{digest}", path)
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin {name!r}: cannot load {path.name}")
    module = importlib.util.module_from_spec(spec)
    # Registered first, as import does, so dataclasses and pickling inside it work.
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(spec.name, None)
        raise PluginError(f"plugin {name!r}: loading failed: {exc}") from exc
    if not hasattr(module, "run"):
        raise PluginError(f"plugin {name!r}: the file defines no run(inputs, ctx)")
    return _callable(module.run, name)


def _javascript(name: str, workspace: Path) -> Plugin:
    from scd_engine.plugins.node import NodePlugin

    root = workspace.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise PluginError(f"plugin {name!r}: a local plugin must be inside the workspace")
    if path.is_file() and path.suffix in (".js", ".cjs"):
        return NodePlugin(name, path=path)
    if path.is_dir() and ((path / "package.json").is_file() or (path / "index.js").is_file()):
        return NodePlugin(name, path=path)
    if path.with_suffix(".js").is_file():
        return NodePlugin(name, path=path.with_suffix(".js"))
    raise PluginNotFound(
        f"plugin {name!r}: no such plugin in the workspace (a .py or .js file, or a directory"
        " with package.json or index.js)"
    )


def _callable(obj: object, name: str) -> Plugin:
    if not callable(obj):
        raise PluginError(f"plugin {name!r}: {obj!r} is not callable")
    return cast(Plugin, obj)
