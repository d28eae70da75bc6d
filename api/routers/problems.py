"""OpenAPI descriptions of the problem+json responses each route may give."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {
    401: "Missing, malformed, unknown or revoked API key",
    403: "Wrong role, or no authorisation from the enterprise",
    404: "Unknown resource",
    409: "Conflicts with the current state",
    422: "Invalid input; `errors` names each field and rule",
    429: "Rate limit reached; `Retry-After` says how many seconds to wait",
    503: "No model loaded or database unreachable",
}


class ProblemFieldError(BaseModel):
    """One invalid field."""

    field: str
    rule: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None = None
    errors: list[ProblemFieldError] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the given statuses, all rendered as problem+json (429 with ``Retry-After``)."""
    return {
        status: {
            "model": Problem,
            "description": _TITLES[status],
            "content": {PROBLEM_MEDIA_TYPE: {}},
            **({"headers": {"Retry-After": {"description": "Seconds to wait before retrying",
                                            "schema": {"type": "integer"}}}} if status == 429 else {}),
        }
        for status in statuses
    }


def document_problems_as_problem_json(app: FastAPI) -> None:
    """Put the Problem schema under ``application/problem+json`` — the media type errors are sent as — rather
    than the ``application/json`` FastAPI files a response ``model`` under, so clients and schemathesis check
    error bodies against it."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                for response in operation.get("responses", {}).values():
                    content = response.get("content", {})
                    if PROBLEM_MEDIA_TYPE in content and "application/json" in content:
                        content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
        return document

    app.openapi = openapi  # type: ignore[method-assign]
