"""访问留痕: exactly one ``audit_events`` row per /v1 request, allowed, denied or errored, stored before the
answer leaves: when the row cannot be stored the caller gets 503 instead of the data.

An ASGI middleware opens an :class:`AuditContext` per request; dependencies note the actor and USCC as they
learn them; once the handler has answered, the row is written in its own short transaction, chained to the
row before it (``api.audit_chain``). A handler that writes anyway (``POST /v1/scores``) may instead add the row
to its own transaction with :func:`record_in`, so the stored answer and its audit row commit together, or
neither does; the middleware then writes nothing more unless the answer's status turns out to differ from the
one recorded (the access is then recorded again with the status the caller really got). Keys never reach it.
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

from api import audit_chain  # also registers the listener that chains every new audit row
from api.db.models import AuditEvent, utcnow
from api.problem_json import PROBLEM_BASE, problem_body, send_problem

logger = logging.getLogger(__name__)

AUDITED_PREFIX = "/v1/"
AUDIT_UNAVAILABLE_SLUG = "audit-unavailable"
AUDIT_UNAVAILABLE_TYPE = PROBLEM_BASE + AUDIT_UNAVAILABLE_SLUG
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass
class AuditContext:
    """What is known about one request so far; filled in by dependencies and error handlers."""

    request_id: str
    actor_account_id: int | None = None
    actor_role: str = "anonymous"
    uscc: str | None = None
    detail: str | None = None
    recorded_status: int | None = None
    """The status of a row a handler already added to its own transaction (``record_in``), if any."""


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


def _event_fields(ctx: AuditContext, action: str, status: int) -> dict[str, Any]:
    return {
        "at": utcnow(),
        "request_id": ctx.request_id,
        "actor_account_id": ctx.actor_account_id,
        "actor_role": ctx.actor_role,
        "action": action,
        "uscc": ctx.uscc,
        "outcome": outcome_of(status),
        "http_status": status,
        "detail": ctx.detail,
    }


def _event(ctx: AuditContext, action: str, status: int) -> AuditEvent:
    return AuditEvent(**_event_fields(ctx, action, status))


def record_in(session: Session, request: Request, status: int = 200) -> None:
    """Write this request's audit row in ``session``'s transaction, to commit with the handler's own writes.

    Call it last, just before the commit, once the answer is built: the row says ``status``, and the middleware
    writes no second row for a request whose answer carries that status. The row is chained and inserted at
    once (``audit_chain.append_row``), so the head stays locked until that commit.
    """
    ctx = _context(request)
    if ctx is None:
        raise RuntimeError("record_in needs the AuditMiddleware's context on the request")
    audit_chain.append_row(session, _event_fields(ctx, _action(request.scope), status))
    ctx.recorded_status = status


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
        audited = scope["path"].startswith(AUDITED_PREFIX)
        held: list[Message] = []  # an audited answer is held back until its audit row is stored

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            if audited:
                held.append(message)
            else:
                await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            status["code"] = 500
            ctx.detail = "internal"
            if audited and ctx.recorded_status != status["code"]:
                await self._record(scope, ctx, status["code"])
            raise
        if not audited:
            return
        if ctx.recorded_status == status["code"] or await self._record(scope, ctx, status["code"]):
            for message in held:
                await send(message)
        else:  # no record of this access, so no answer: the caller may retry (reports are idempotent)
            await _withheld(send, request_id, scope["path"])

    async def _record(self, scope: Scope, ctx: AuditContext, status: int) -> bool:
        """Store the request's audit row; False (and a logged error) when it could not be stored."""
        app: Any = scope.get("app")
        factory: sessionmaker[Session] | None = getattr(getattr(app, "state", None), "sessionmaker", None)
        if factory is None:
            logger.error("no sessionmaker on app.state; audit row for request %s lost", ctx.request_id)
            return False
        event = _event(ctx, _action(scope), status)
        try:
            await run_in_threadpool(write_event, factory, event)
        except Exception:
            logger.exception("audit row for request %s could not be written", ctx.request_id)
            return False
        return True


async def _withheld(send: Send, request_id: str, path: str) -> None:
    """503 problem+json in place of an answer whose access could not be recorded."""
    body = problem_body(
        503, AUDIT_UNAVAILABLE_SLUG, "Service unavailable",
        "The access could not be recorded in the audit log, so the answer is withheld; retry shortly.", path,
        request_id=request_id,
    )
    await send_problem(send, body, [(b"retry-after", b"1"), (b"x-request-id", request_id.encode())])


def write_event(factory: sessionmaker[Session], event: AuditEvent) -> None:
    """Insert one audit row in its own transaction."""
    with factory.begin() as session:
        session.add(event)
