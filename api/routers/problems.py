"""OpenAPI descriptions of the problem+json responses each route may give."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from api.problem_json import PROBLEM_MEDIA_TYPE

_TITLES = {
    400: "The body could not be read as JSON",
    401: "Missing, malformed, unknown or revoked API key",
    403: "Wrong role, or no authorisation from the enterprise",
    404: "Unknown resource",
    409: "Conflicts with the current state",
    410: "No longer kept: deleted under the retention period",
    422: "Invalid input; `errors` names each field and rule",
    429: "Rate limit reached, or the key or address locked out after failed keys; `Retry-After` says how many "
    "seconds to wait",
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


def _problem(status: int) -> dict[str, Any]:
    entry = problem_responses(status)[status]
    del entry["model"]
    entry["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return entry


def document_problems_as_problem_json(app: FastAPI) -> None:
    """Complete the document's problem responses once, for every route alike.

    - the Problem schema goes under ``application/problem+json``, the media type errors are sent as, rather than
      the ``application/json`` FastAPI files a response ``model`` under, so clients and schemathesis check error
      bodies against it;
    - every operation with a body may answer 400 (a body that is not JSON at all);
    - every authenticated operation (one that documents 401) may answer 429: a bank over its rate limit, or a
      key id or address locked out after failed keys.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for response in responses.values():
                    content = response.get("content", {})
                    if PROBLEM_MEDIA_TYPE in content and "application/json" in content:
                        content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
                if "requestBody" in operation:
                    responses.setdefault("400", _problem(400))
                if "401" in responses:
                    responses.setdefault("429", _problem(429))
        return document

    app.openapi = openapi  # type: ignore[method-assign]
