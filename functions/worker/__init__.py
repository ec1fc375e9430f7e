"""The worker function: FC event function that runs one job per ``POST /invoke``.

Modules: ``app`` (the ASGI app, ``functions.worker.app:app``), ``execute`` (one job
from claim to final status), ``setup`` (the set-up step), ``checkout`` (mirror
cache and exact-commit checkout), ``heartbeat`` (lease renewal and cancel
polling), ``lost`` (``end_lost_runs``, the reaper) and ``secrets`` (secrets and
platform variables); status changes go through ``scd_core.lifecycle``. Nothing is imported
here, so importing one module does not pull in the web app or the engine.
"""

from __future__ import annotations

__all__: list[str] = []
