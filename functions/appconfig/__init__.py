"""scd.yaml in one place: the trigger, the worker and ``scd serve`` load it through here.

``load_config``/``parse_config`` give a ``Config`` (apps and tokens) or one
``ConfigError`` listing every problem with file:line:column; ``load_app`` and
``stored_app`` give a typed ``scd_trigger_spec.App``. See ``config`` for the
contracts and ``document`` for how problems are located.
"""

from __future__ import annotations

from functions.appconfig.config import (
    AppReader,
    Config,
    load_app,
    load_config,
    parse_config,
    stored_app,
)

__all__ = ["AppReader", "Config", "load_app", "load_config", "parse_config", "stored_app"]
