"""Domain errors with their HTTP status, rendered once as RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.audit import note_detail
from api.problem_json import PROBLEM_MEDIA_TYPE, problem_body

logger = logging.getLogger(__name__)

_REQUEST_SOURCES = ("body", "query", "path", "header", "cookie")


@dataclass(frozen=True)
class FieldError:
    """One invalid input: which field, which rule it broke, and why."""

    field: str
    rule: str
    message: str


class ApiError(Exception):
    """Base of every error the API reports on purpose; subclasses fix status, slug and title."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = tuple(errors)
        self.headers = headers or {}


class NotAuthenticated(ApiError):  # noqa: N818 - HTTP status names read best here
    """No API key, or one that is malformed, unknown, revoked or disabled."""

    status, slug, title = 401, "not-authenticated", "Not authenticated"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="xinyi"'})


class Forbidden(ApiError):  # noqa: N818 - HTTP status names read best here
    """The caller's role may not use this endpoint."""

    status, slug, title = 403, "forbidden", "Forbidden"


class NotAuthorised(Forbidden):
    """未授权: the enterprise has not (or no longer) authorised this bank for this purpose."""

    slug, title = "not-authorised", "No authorisation from the enterprise"


class NotFound(ApiError):  # noqa: N818 - HTTP status names read best here
    """The named resource does not exist, or is not the caller's to see."""

    status, slug, title = 404, "not-found", "Not found"


class NoProfile(NotFound):
    """The enterprise is known but has no profile (企业画像) to score yet."""

    slug, title = "no-profile", "No profile"


class ScorePastRetention(ApiError):  # noqa: N818 - HTTP status names read best here
    """410: a stored score older than the retention period (``XINYI_SCORE_RETENTION_DAYS``) has been deleted
    (``api.retention``); the id's own time says so, so the answer is the same for every bank."""

    status, slug, title = 410, "score-past-retention", "Score no longer kept"


class Conflict(ApiError):  # noqa: N818 - HTTP status names read best here
    """The request clashes with the current state of a resource."""

    status, slug, title = 409, "conflict", "Conflict"


class ValidationProblem(ApiError):  # noqa: N818 - HTTP status names read best here
    """The input broke a named rule; ``errors`` lists each field."""

    status, slug, title = 422, "validation", "Invalid request"


class RateLimited(ApiError):  # noqa: N818 - HTTP status names read best here
    """The bank has used up its request allowance for now; ``Retry-After`` says when to come back."""

    status, slug, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str, retry_after_seconds: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_seconds)})


class ServiceUnavailable(ApiError):  # noqa: N818 - HTTP status names read best here
    """A needed part (database, model) is not available right now."""

    status, slug, title = 503, "service-unavailable", "Service unavailable"


def problem_response(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response; also notes the slug for the audit row."""
    body = problem_body(status, slug, title, detail, request.url.path,
                        request_id=getattr(request.state, "request_id", None), errors=[asdict(e) for e in errors])
    note_detail(request, slug if not errors else f"{slug}: " + ", ".join(f"{e.field}:{e.rule}" for e in errors))
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _field_name(loc: Sequence[int | str]) -> tuple[str, str | None]:
    parts = [str(p) for p in loc]
    source = parts[0] if parts and parts[0] in _REQUEST_SOURCES else None
    if source:
        parts = parts[1:]
    return (".".join(parts) or (source or "request")), source


def validation_errors(exc: RequestValidationError) -> list[FieldError]:
    """One FieldError per pydantic error, named by its location without the request part."""
    out = []
    for error in exc.errors():
        field, _source = _field_name(error.get("loc", ()))
        out.append(FieldError(field=field, rule=str(error.get("type", "invalid")), message=str(error.get("msg"))))
    return out


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem_response(request, exc.status, exc.slug, exc.title, exc.detail, exc.errors, exc.headers)


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc)
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors)[:500]
    return problem_response(request, 422, ValidationProblem.slug, ValidationProblem.title, detail, errors)


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, f"http-{exc.status_code}")
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem_response(request, exc.status_code, slug, title, detail, headers=exc.headers)


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request, 500, "internal", "Internal error", "An unexpected error occurred; it has been logged."
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, expected or not, as problem+json."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unhandled)
