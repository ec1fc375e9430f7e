"""What the trigger's handlers share: settings, config, store, invoker.

Contract: the lifespan of ``create_app`` builds one ``TriggerState`` and puts
it on ``app.state.scd``; handlers reach it through ``state_of(request)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from scd_core.errors import NotFound
from scd_core.settings import Settings
from scd_trigger_spec import App
from starlette.requests import Request

from functions.trigger.config import Config
from functions.trigger.launcher import Launcher

__all__ = ["TriggerState", "state_of"]


@dataclass
class TriggerState:
    """The live configuration and backends of one trigger process."""

    settings: Settings
    config: Config
    launcher: Launcher

    def app(self, name: str) -> App:
        """The configured app called ``name``, or ``NotFound``."""
        app = self.config.apps.get(name)
        if app is None:
            raise NotFound(f"no app named {name!r}")
        return app


def state_of(request: Request) -> TriggerState:
    """The ``TriggerState`` of the application serving ``request``."""
    state: TriggerState = request.app.state.scd
    return state
