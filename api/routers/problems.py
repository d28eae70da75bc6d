"""OpenAPI descriptions of the problem+json responses each route may give."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

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
    """``responses=`` entries for the given statuses, all rendered as problem+json."""
    return {
        status: {
            "model": Problem,
            "description": _TITLES[status],
            "content": {"application/problem+json": {}},
        }
        for status in statuses
    }
