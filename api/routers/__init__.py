"""All routers, one per resource, aggregated in one place."""

from __future__ import annotations

from fastapi import APIRouter

from api.routers import authorisations, enterprise, health, loans, objections, operator, regulator, scores

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(scores.router)
api_router.include_router(authorisations.router)
api_router.include_router(loans.router)
api_router.include_router(loans.batch_router)
api_router.include_router(enterprise.router)
api_router.include_router(objections.router)
api_router.include_router(regulator.router)
api_router.include_router(operator.router)

__all__ = ["api_router"]
