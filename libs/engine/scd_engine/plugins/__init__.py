"""Step plugins: what a ``uses:`` step runs.

A plugin is a callable ``(inputs, ctx) -> Mapping[str, Any] | None``: ``inputs``
are the step's ``with:`` values, already rendered; ``ctx`` is a
:class:`PluginContext`; the returned mapping becomes ``steps.<id>.outputs``
(values turned into strings); an exception fails the step with its message.
Plugins run in the runner's process. Built-ins: ``cache``, ``notify-webhook``.
"""

from __future__ import annotations

from scd_engine.plugins.context import AtEnd, Plugin, PluginContext
from scd_engine.plugins.resolver import (
    BUILTINS,
    ENTRY_POINT_GROUP,
    PluginError,
    PluginNotFound,
    resolve_plugin,
)

__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "AtEnd",
    "Plugin",
    "PluginContext",
    "PluginError",
    "PluginNotFound",
    "resolve_plugin",
]
