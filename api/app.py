"""The app factory: wires settings, database, key verifier, scorer, audit and error handling."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.audit import AuditMiddleware
from api.body_limit import RequestBodyLimit
from api.db.checkpoints import attach_checkpointer
from api.db.session import make_engine, make_sessionmaker
from api.errors import install_error_handlers
from api.headers import ApiSecurityHeaders
from api.metrics import ApiMetrics, MetricsMiddleware
from api.metrics import router as metrics_router
from api.portal import install_portal
from api.ratelimit import TokenBuckets
from api.routers import api_router
from api.routers.problems import document_problems_as_problem_json
from api.security import KeyVerifier
from config.settings import Settings, get_settings
from scoring.precredit import PreCreditPolicy
from scoring.types import ScoreProvider

OPENAPI_TAGS = [
    {
        "name": "bank",
        "description": "金融机构: pre-credit scores for enterprises that authorised the bank; loan reports (回传).",
    },
    {
        "name": "enterprise",
        "description": "企业: grant, list and revoke authorisations (授权); its own profile, score and advice; who "
        "accessed its data; objections (异议) and requests for human review of automated decisions.",
    },
    {
        "name": "operator",
        "description": "运营: connect banks, open accounts, issue, rotate and revoke API keys, disable accounts; "
        "work objections and requests for human review.",
    },
    {"name": "ops", "description": "Operators: liveness and readiness."},
    {"name": "regulator", "description": "监管: coverage, credit lending and 年增速, banks' loan reports, data "
     "quality, policy declines and model monitoring, each table as JSON or CSV; regulator and analyst keys."},
]


def freeze_startup_heap() -> int:
    """Move every object alive now out of the cyclic garbage collector's reach (``gc.freeze``); returns how many.

    Call once a serving process has built its app, just before it serves (``xinyi serve``, the bench's factory).
    What start-up builds (the model, SQLAlchemy's metadata, the routes: about 250,000 objects) lives as long as
    the process, yet every full collection walked all of it: 190–330 ms with every request of the worker waiting
    (docs/operations.md, load and soak). Frozen, a full collection walks only what requests created since. Not
    done by ``create_app``: a test process builds many apps, and objects frozen there would never be collected.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def create_app(
    settings: Settings | None = None,
    score_provider: ScoreProvider | None = None,
    precredit_policy: PreCreditPolicy | None = None,
) -> FastAPI:
    """A ready-to-serve app; the database must already be migrated (``api.db.migrate``).

    The pre-credit policy defaults to the settings' one; its rules file is validated here, so a bad one stops
    the service from starting (``RuleSetError`` naming the rule and field).
    """
    settings = settings or get_settings()
    precredit_policy = precredit_policy or PreCreditPolicy.from_settings(settings)
    engine = make_engine(settings.resolved_database_url)
    checkpointer = attach_checkpointer(engine, settings.sqlite_checkpoint_seconds)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if checkpointer is not None:
            checkpointer.start()
        try:
            yield
        finally:
            if checkpointer is not None:
                checkpointer.stop()
            engine.dispose()

    app = FastAPI(
        title="Xinyi pre-credit API",
        summary="信易贷-style pre-credit scores for small enterprises, under the enterprise's authorisation.",
        version="0.1.0",
        openapi_tags=OPENAPI_TAGS,
        docs_url="/docs",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.wal_checkpointer = checkpointer
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.score_provider = score_provider
    app.state.precredit_policy = precredit_policy
    app.state.key_verifier = KeyVerifier(settings)
    app.state.rate_limits = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.state.metrics = ApiMetrics(app.state)
    install_error_handlers(app)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(RequestBodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(ApiSecurityHeaders)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.include_router(api_router)
    install_portal(app)
    app.include_router(metrics_router)
    document_problems_as_problem_json(app)
    return app
