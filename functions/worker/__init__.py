"""The worker function: FC event function that runs one job per ``POST /invoke``.

Modules: ``app`` (the ASGI app, ``functions.worker.app:app``), ``execute`` (one job
from claim to final status), ``setup`` (the set-up step), ``checkout`` (mirror
cache and exact-commit checkout), ``heartbeat`` (lease renewal and cancel
polling), ``lost`` (``end_lost_runs``, the reaper), ``records`` (conditional run
updates) and ``secrets`` (secrets and platform variables). Nothing is imported
here, so importing one module does not pull in the web app or the engine.
"""

from __future__ import annotations

__all__: list[str] = []
