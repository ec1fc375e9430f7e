"""Invoker backends and ``open_invoker``, which picks one from a URL.

URLs: ``memory://``. The ``local``, ``fc`` and ``redis`` backends come later.
"""

from __future__ import annotations

from scd_core.errors import ConfigError
from scd_core.invoker import Invoker

__all__ = ["ACCEPTED_URLS", "open_invoker"]

ACCEPTED_URLS = ("memory://",)


def open_invoker(url: str) -> Invoker:
    """Open the invoker named by ``url``; ``ConfigError`` for an unknown or bad URL."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme == "memory":
        if rest:
            raise ConfigError(f"invoker URL {url!r}: memory:// takes no path")
        from scd_core.invokers.memory import MemoryInvoker

        return MemoryInvoker()
    raise ConfigError(f"unknown invoker URL {url!r} (accepted: {', '.join(ACCEPTED_URLS)})")
