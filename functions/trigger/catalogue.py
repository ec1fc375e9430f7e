"""The app catalogue: every app, scd.yaml's and those registered through the API.

Contract: ``merged_apps(state)`` lists them sorted by name, scd.yaml's winning
a clash of names (the API refuses to register one, but a store may predate a
config change). Blocking: it reads the store's app table (``list_apps``) once.
Stored specs go through ``state.apps`` (``functions.trigger.state.AppCatalog``),
so each is validated once per spec; one that no longer validates is left out.
The apps API, the scheduler of ``scd serve`` and FC's minute tick all read the
catalogue here. Imports no web framework: the minute tick runs it on a cold start.
"""

from __future__ import annotations

from scd_trigger_spec import App

from functions.trigger.state import Source, TriggerState

__all__ = ["merged_apps"]


def merged_apps(state: TriggerState) -> list[tuple[App, Source]]:
    """Every app with where it is defined, sorted by name (see the module doc)."""
    apps: dict[str, tuple[App, Source]] = {
        name: (app, "config") for name, app in state.config.apps.items()
    }
    for name, spec in state.launcher.store.list_apps():
        if name not in apps:
            app = state.apps.remember(name, spec).app
            if app is not None:
                apps[name] = (app, "api")
    return [apps[name] for name in sorted(apps)]
