"""访问留痕: exactly one ``audit_events`` row per /v1 request, allowed, denied or errored.

An ASGI middleware opens an :class:`AuditContext` per request; dependencies note the actor and USCC as they
learn them; after the response the row is written in its own short transaction, chained to the row before it
(``api.audit_chain``). Keys never reach it.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import audit_chain  # noqa: F401 - registers the listener that chains every new audit row
from api.db.models import AuditEvent, utcnow

logger = logging.getLogger(__name__)

AUDITED_PREFIX = "/v1/"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass
class AuditContext:
    """What is known about one request so far; filled in by dependencies and error handlers."""

    request_id: str
    actor_account_id: int | None = None
    actor_role: str = "anonymous"
    uscc: str | None = None
    detail: str | None = None


def _context(request: Request) -> AuditContext | None:
    ctx = getattr(request.state, "audit", None)
    return ctx if isinstance(ctx, AuditContext) else None


def note_actor(request: Request, account_id: int, role: str) -> None:
    """Record who is calling, once the key is verified."""
    ctx = _context(request)
    if ctx is not None:
        ctx.actor_account_id, ctx.actor_role = account_id, role


def note_uscc(request: Request, uscc: str) -> None:
    """Record which enterprise the request concerns."""
    ctx = _context(request)
    if ctx is not None:
        ctx.uscc = uscc


def note_detail(request: Request, detail: str) -> None:
    """Record a short, secret-free explanation (the problem type, say)."""
    ctx = _context(request)
    if ctx is not None:
        ctx.detail = detail[:200]


def outcome_of(status: int) -> str:
    """allowed below 400, denied for 401/403, error otherwise."""
    if status < 400:
        return "allowed"
    return "denied" if status in (401, 403) else "error"


def _action(scope: Scope) -> str:
    route = scope.get("route")
    name = getattr(route, "name", None)
    return name if isinstance(name, str) and name else "unmatched"


class AuditMiddleware:
    """Assigns a request id to every request and writes one audit row for each /v1 request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        offered = request.headers.get("x-request-id", "")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        ctx = AuditContext(request_id=request_id)
        request.state.request_id = request_id
        request.state.audit = ctx
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status["code"] = 500
            ctx.detail = "internal"
            raise
        finally:
            if scope["path"].startswith(AUDITED_PREFIX):
                await self._record(scope, ctx, status["code"])

    async def _record(self, scope: Scope, ctx: AuditContext, status: int) -> None:
        app: Any = scope.get("app")
        factory: sessionmaker[Session] | None = getattr(getattr(app, "state", None), "sessionmaker", None)
        if factory is None:
            logger.error("no sessionmaker on app.state; audit row for request %s lost", ctx.request_id)
            return
        event = AuditEvent(
            at=utcnow(),
            request_id=ctx.request_id,
            actor_account_id=ctx.actor_account_id,
            actor_role=ctx.actor_role,
            action=_action(scope),
            uscc=ctx.uscc,
            outcome=outcome_of(status),
            http_status=status,
            detail=ctx.detail,
        )
        try:
            await run_in_threadpool(write_event, factory, event)
        except Exception:
            logger.exception("audit row for request %s could not be written", ctx.request_id)


def write_event(factory: sessionmaker[Session], event: AuditEvent) -> None:
    """Insert one audit row in its own transaction."""
    with factory.begin() as session:
        session.add(event)
