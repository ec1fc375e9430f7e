"""The dashboard (``/ui``): server-rendered pages over the run store, with live logs.

``router`` is included by ``functions.trigger.api.build_api``: the ``/ui`` routes
(see ``routes`` for the contract, ``session`` for the cookie and CSRF scheme) and
``GET /``, which redirects to the dashboard so that a browser pointed at the
server finds it.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import RedirectResponse

from functions.trigger.ui import routes

__all__ = ["router"]


async def _root() -> RedirectResponse:
    """The server's root: the dashboard (which asks for a log-in when needed)."""
    return RedirectResponse("/ui/", status_code=307)


router = APIRouter(include_in_schema=False)
router.add_api_route("/", _root, methods=["GET"], response_class=RedirectResponse)
router.include_router(routes.router)
