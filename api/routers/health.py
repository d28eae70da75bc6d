"""Liveness and readiness probes for operators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.errors import ServiceUnavailable
from api.routers.problems import problem_responses

router = APIRouter(tags=["ops"])


@router.get("/healthz", name="health.live", summary="The process is up")
async def healthz() -> dict[str, str]:
    """Liveness: answers as long as the process's event loop turns, on the loop itself (no thread-pool hop, so
    a pool busy with PostgreSQL work does not make a live worker look dead)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    name="health.ready",
    summary="Database reachable and a model loaded",
    responses=problem_responses(503),
)
def readyz(request: Request) -> dict[str, Any]:
    """Readiness: 200 when the database answers and a scoring model is loaded, 503 otherwise."""
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise ServiceUnavailable("The database is not reachable.") from None
    provider = request.app.state.score_provider
    if provider is None:
        raise ServiceUnavailable("No scoring model is loaded.")
    return {"status": "ready", "model": {"name": provider.model_name, "version": provider.model_version}}
