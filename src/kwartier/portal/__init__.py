"""The customer portal (issue 6): server-rendered pages for grid users, phone first, in Dutch and English,
with its styles served by the application itself. :func:`install_portal` adds it to the application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from kwartier.access.rate_limits import TokenBuckets
from kwartier.portal.routes import router
from kwartier.portal.signin import SIGNIN_BURST, SIGNIN_RATE_PER_SECOND
from kwartier.portal.web import STATIC_DIR, PortalError, portal_error


def install_portal(app: FastAPI) -> None:
    """Mount the portal's pages at ``/``, its assets at ``/static`` and its error pages (which render only
    :class:`PortalError`, so the API's JSON errors stay as they are)."""
    app.state.portal_signin_limits = TokenBuckets(SIGNIN_RATE_PER_SECOND, SIGNIN_BURST)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(PortalError, portal_error)
