"""门户: the server-rendered web portal for enterprises and regulators, mounted in the API app under /portal.

``install_portal`` adds the pages, the static files (served by the app itself, no CDN), the security headers,
one audit row per portal request that concerns an account, and the pages shown for a missing login, a
forbidden page or a refused form.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.portal.middleware import PortalMiddleware
from api.portal.rendering import STATIC_DIR, render
from api.portal.routes_auth import router as auth_router
from api.portal.routes_enterprise import router as enterprise_router
from api.portal.routes_regulator import router as regulator_router
from api.portal.sessions import CsrfRefused, LoginRequired, LoginThrottle, PortalForbidden

PORTAL_PREFIX = "/portal"


async def _login_required(request: Request, exc: Exception) -> Response:
    return RedirectResponse(request.url_for("portal.login_form"), status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", {"message_key": "error.forbidden"}, status_code=403)


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return render(request, "error.html", {"message_key": "error.csrf"}, status_code=403)


def install_portal(app: FastAPI) -> None:
    """Mount the portal's pages and static files on ``app`` (whose settings and database it shares)."""
    settings = app.state.settings
    limits = {"account": settings.portal_login_failures, "address": settings.portal_login_address_failures}
    app.state.login_throttle = LoginThrottle(limits, settings.portal_login_window_seconds)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PortalForbidden, _forbidden)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.include_router(auth_router, prefix=PORTAL_PREFIX, include_in_schema=False)
    app.include_router(enterprise_router, prefix=PORTAL_PREFIX, include_in_schema=False)
    app.include_router(regulator_router, prefix=PORTAL_PREFIX, include_in_schema=False)
    app.mount(f"{PORTAL_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="portal.static")
    app.add_middleware(PortalMiddleware, prefix=PORTAL_PREFIX)
