"""The Python client of scd's HTTP API, and what the ``scd`` client commands print with it.

``ApiClient`` (``functions.client.api``) wraps ``/api/v1`` with typed methods and
translates failures into ``scd_core.errors`` (``Unreachable`` when no server
answers). Importing this package imports httpx; the CLI imports it only inside
its client commands.
"""

from __future__ import annotations

from functions.client.api import DEFAULT_SERVER, ApiClient, LogEnd, LogLine, LogPage
from functions.client.errors import Unreachable

__all__ = ["DEFAULT_SERVER", "ApiClient", "LogEnd", "LogLine", "LogPage", "Unreachable"]
