"""All routers, one per resource, aggregated in one place."""

from __future__ import annotations

from fastapi import APIRouter

from api.routers import authorisations, health, loans, scores

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(scores.router)
api_router.include_router(authorisations.router)
api_router.include_router(loans.router)

__all__ = ["api_router"]
