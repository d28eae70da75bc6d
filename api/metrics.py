"""运行指标: Prometheus metrics at ``/metrics`` — requests, latency, scores by grade and decision, the model
loaded, and requests refused by the rate limit.

Labels are route templates (``/v1/scores/{score_id}``), never concrete paths, so no USCC, id or key reaches a
label. Each app has its own registry (tests build many apps); with several worker processes each process
reports its own counts (docs/api.md, metrics).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Seconds; fine below 15 ms, where the scoring target sits (docs/api.md, load)."""
UNMATCHED = "unmatched"


class _ModelInfo(Collector):
    """``xinyi_model_info{name, version} 1`` for the scorer loaded when scraped (none: no sample)."""

    def __init__(self, app_state: Any) -> None:
        self.app_state = app_state

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("xinyi_model_info", "The scoring model loaded", labels=["name", "version"])
        provider = getattr(self.app_state, "score_provider", None)
        if provider is not None:
            family.add_metric([str(provider.model_name), str(provider.model_version)], 1.0)
        yield family


class _WalCheckpoints(Collector):
    """The SQLite checkpointer thread's passes, their time and the log's length at the last one
    (``api.db.checkpoints``); no samples where there is none (PostgreSQL, or checkpoints left in commits)."""

    def __init__(self, app_state: Any) -> None:
        self.app_state = app_state

    def collect(self) -> Iterator[Metric]:
        checkpointer = getattr(self.app_state, "wal_checkpointer", None)
        if checkpointer is None:
            return
        passes = CounterMetricFamily("xinyi_sqlite_checkpoint_passes", "Background WAL checkpoint passes",
                                     labels=["outcome"])
        passes.add_metric(["done"], checkpointer.passes - checkpointer.busy_passes)
        passes.add_metric(["busy"], checkpointer.busy_passes)
        yield passes
        yield CounterMetricFamily("xinyi_sqlite_checkpoint_seconds", "Time spent in background WAL checkpoints",
                                  value=checkpointer.seconds_total)
        last = checkpointer.last
        if last is not None:
            yield GaugeMetricFamily("xinyi_sqlite_wal_pages", "Pages in the write-ahead log at the last checkpoint",
                                    value=max(last.log_pages, 0))
            yield GaugeMetricFamily("xinyi_sqlite_checkpoint_last_seconds", "Duration of the last checkpoint pass",
                                    value=last.seconds)


class ApiMetrics:
    """The app's metrics, in a registry of its own."""

    def __init__(self, app_state: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "xinyi_http_requests", "HTTP requests by route template, method and status",
            ["route", "method", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "xinyi_http_request_duration_seconds", "Time to answer, by route template and method",
            ["route", "method"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.scores = Counter(
            "xinyi_scores", "Scores given to banks, by grade and decision (none: unscorable)",
            ["grade", "decision"], registry=self.registry,
        )
        self.rate_limited = Counter(
            "xinyi_rate_limited_requests", "Bank requests refused with 429 by the rate limit", registry=self.registry
        )
        self.registry.register(_ModelInfo(app_state))
        self.registry.register(_WalCheckpoints(app_state))

    def record_score(self, grade: str | None, decision: str | None) -> None:
        """Count one score given to a bank."""
        self.scores.labels(grade or "none", decision or "none").inc()

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


def metrics_of(request: Request) -> ApiMetrics:
    """The metrics of the app serving ``request``."""
    metrics: ApiMetrics = request.app.state.metrics
    return metrics


class MetricsMiddleware:
    """Counts every HTTP request and times it, labelled by the route template it matched."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"]
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)


router = APIRouter(tags=["ops"])


@router.get(
    "/metrics",
    name="metrics",
    summary="Prometheus metrics of this process",
    response_class=Response,
    responses={200: {"description": "Prometheus text exposition format",
                     "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def read_metrics(request: Request) -> Response:
    """Requests, latency, scores by grade and decision, the model loaded and rate-limited requests; never a
    USCC or a key. Not audited (it concerns no enterprise)."""
    return Response(metrics_of(request).exposition(), media_type=CONTENT_TYPE_LATEST)
