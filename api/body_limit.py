"""A ceiling on request bodies: an oversized body gets 413 problem+json before any handler reads it (OWASP API4,
unrestricted resource consumption). A declared ``Content-Length`` over the limit is refused at once; a chunked body
is counted as it arrives and refused as soon as it passes the limit, whatever the handler was doing with it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problem_json import PROBLEM_BASE, problem_body, send_problem

BODY_TOO_LARGE_SLUG = "body-too-large"
BODY_TOO_LARGE_TYPE = PROBLEM_BASE + BODY_TOO_LARGE_SLUG


class BodyTooLarge(Exception):  # noqa: N818 - named for what happened, like the HTTP status
    """Raised from ``receive`` once a streamed body passes the limit, to stop the handler reading on."""


class RequestBodyLimit:
    """Refuses request bodies larger than ``max_bytes`` with 413 ``body-too-large``, naming the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, scope["path"], declared)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:  # whatever the app answers after the limit was passed, the answer is 413
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._refuse(send, scope["path"], received)

    async def _refuse(self, send: Send, path: str, size: int) -> None:
        body = problem_body(
            413, BODY_TOO_LARGE_SLUG, "Request body too large",
            f"The request body ({size:,} bytes or more) is over the limit of {self.max_bytes:,} bytes; "
            "send fewer items per request.", path,
            errors=[{"field": "body", "rule": "body.max_bytes", "message": f"at most {self.max_bytes} bytes"}],
        )
        await send_problem(send, body, [(b"connection", b"close")])


def _content_length(scope: Scope) -> int | None:
    """The declared body length, or None when absent or not a number (the server then counts what arrives)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
