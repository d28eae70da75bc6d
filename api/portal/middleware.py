"""Security headers on every portal response, and its audit rows (访问留痕) like the API's.

The API's audit middleware opens the request's ``AuditContext``; portal dependencies note the account and the
enterprise in it as the API's do. After the response this middleware writes the row for portal pages and forms,
skipping only anonymous page views that were allowed (the login page) and static files.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit import AuditContext, outcome_of, write_event
from api.db.models import AuditEvent, utcnow

logger = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class PortalMiddleware:
    """Adds the security headers to /portal responses (pages also get ``no-store``) and audits them."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix
        self.static = f"{prefix}/static/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.app(scope, receive, send)
            return
        is_page = not path.startswith(self.static)
        status = {"code": 500}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                extra = [*SECURITY_HEADERS, *([(b"cache-control", b"no-store")] if is_page else [])]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if is_page:
                await self._record(scope, status["code"])

    async def _record(self, scope: Scope, status: int) -> None:
        ctx = scope.get("state", {}).get("audit")
        if not isinstance(ctx, AuditContext):
            return
        if ctx.actor_account_id is None and scope.get("method") == "GET" and status < 400:
            return  # the login page and redirects to it
        route = scope.get("route")
        app: Any = scope.get("app")
        factory = getattr(getattr(app, "state", None), "sessionmaker", None)
        if factory is None:
            return
        event = AuditEvent(
            at=utcnow(), request_id=ctx.request_id, actor_account_id=ctx.actor_account_id, actor_role=ctx.actor_role,
            action=getattr(route, "name", None) or "portal.unmatched", uscc=ctx.uscc, outcome=outcome_of(status),
            http_status=status, detail=ctx.detail,
        )
        try:
            await run_in_threadpool(write_event, factory, event)
        except Exception:
            logger.exception("portal audit row for request %s could not be written", ctx.request_id)
