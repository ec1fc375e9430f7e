"""scd_core: models, errors, settings, masking, and the Protocols with their backends.

The names below are the public API, importable from the package root; each is
loaded from its module on first use (PEP 562), so ``import scd_core.errors``
stays as cheap as it was and a cold start pays only for what it touches.
Backends are opened by URL: ``open_store`` (``SCD_STORE``), ``open_sink``
(``SCD_LOG_SINK``) and ``open_invoker`` (``SCD_INVOKER``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scd_core.errors import (
        AuthError,
        BackendError,
        BadRequest,
        ConfigError,
        Conflict,
        Forbidden,
        NotFound,
        ScdError,
    )
    from scd_core.invoker import Invoker
    from scd_core.invokers import open_invoker
    from scd_core.logs import LogWriter
    from scd_core.logsink import LogSink
    from scd_core.masking import Masker
    from scd_core.models import Event, Job, Run, Status, StepState, TaskState
    from scd_core.settings import Settings
    from scd_core.sinks import open_sink
    from scd_core.store import RunStore
    from scd_core.stores import open_store

__all__ = [
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
]

_HOMES = {
    **dict.fromkeys(
        (
            "AuthError",
            "BackendError",
            "BadRequest",
            "ConfigError",
            "Conflict",
            "Forbidden",
            "NotFound",
            "ScdError",
        ),
        "scd_core.errors",
    ),
    **dict.fromkeys(("Event", "Job", "Run", "Status", "StepState", "TaskState"), "scd_core.models"),
    "Invoker": "scd_core.invoker",
    "open_invoker": "scd_core.invokers",
    "LogWriter": "scd_core.logs",
    "LogSink": "scd_core.logsink",
    "Masker": "scd_core.masking",
    "Settings": "scd_core.settings",
    "open_sink": "scd_core.sinks",
    "RunStore": "scd_core.store",
    "open_store": "scd_core.stores",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
