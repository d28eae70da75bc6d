"""RFC 9457 ``application/problem+json`` bodies, built in one place.

``api.errors`` renders the errors that reach FastAPI's exception handlers with :func:`problem_body`; middleware
that answers before or after the app (``api.body_limit``, ``api.audit``) sends the same body as raw ASGI messages
with :func:`send_problem`. This module imports nothing from the app, so both sides can use it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from starlette.types import Send

PROBLEM_BASE = "https://xinyi.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_instance(path: str) -> str:
    """The request path as a percent-encoded URI reference (RFC 9457 ``instance``): what the caller sent comes
    back as data, never as markup."""
    return quote(path, safe="/")


def problem_body(
    status: int,
    slug: str,
    title: str,
    detail: str,
    path: str,
    *,
    request_id: str | None = None,
    errors: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """The problem document: stable ``type`` (``PROBLEM_BASE`` + ``slug``), title, status, detail, the path as
    ``instance``, and the request id and field errors when there are any."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": problem_instance(path),
    }
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = [dict(error) for error in errors]
    return body


async def send_problem(
    send: Send, body: Mapping[str, Any], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Send ``body`` (a :func:`problem_body`) as a complete problem+json answer, from ASGI middleware."""
    encoded = json.dumps(body).encode()
    start_headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()), (b"content-length", str(len(encoded)).encode()),
                     *headers]
    await send({"type": "http.response.start", "status": body["status"], "headers": start_headers})
    await send({"type": "http.response.body", "body": encoded})
