"""The dashboard (``/ui``): server-rendered pages over the run store, with live logs.

``router`` is included by ``functions.trigger.api.build_api``; see ``routes``
for the contract, ``session`` for the cookie and CSRF scheme.
"""

from __future__ import annotations

from functions.trigger.ui.routes import router

__all__ = ["router"]
