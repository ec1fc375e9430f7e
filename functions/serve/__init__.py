"""``scd serve`` on one machine: worker processes, invoker wiring, the reaper, defaults.

``serve(ServeOptions(...))`` runs the trigger, the workers, the local invoker, the
scheduler and the reaper until SIGINT or SIGTERM (see ``functions.serve.server``).
"""

from __future__ import annotations

from functions.serve.server import ServeOptions, serve

__all__ = ["ServeOptions", "serve"]
