"""Prometheus metrics of one app: requests, database pool, rate-limit refusals; ``GET /metrics``.

Each app has a registry of its own (two apps in one process, as in the tests, count apart).
Requests are counted by :class:`agents_api.request_observer.RequestObserver`, labelled with the
route's template (``/api/v1/agents/{agent_id}``), never the raw path, so that the number of
series stays bounded whatever clients send. The pool is read when scraped, not per request.

Why not Litestar's Prometheus plugin: it runs as route middleware (requests that match no route
are not counted), builds a ``Request`` and looks its labels up on every request, registers on
the process-wide registry, and has no credential for the endpoint. Counting in the one
pure-ASGI layer that already times every request for its log line costs two increments.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.types import Scope
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agents_api.security import PUBLIC
from agents_core.db.database import Database

__all__ = ["AppMetrics", "metrics_endpoint", "record_rate_limited"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds: the reads answer in about a millisecond, a stalled database in up to the timeout."""

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class DatabasePoolCollector(Collector):
    """The serving pool's state, read from :meth:`Database.pool_status` at each scrape."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[Metric]:
        status = self._database.pool_status()
        yield GaugeMetricFamily(
            "agents_db_pool_connections", "Open connections in the pool", value=status.size
        )
        yield GaugeMetricFamily(
            "agents_db_pool_in_use", "Pool connections checked out", value=status.in_use
        )
        yield GaugeMetricFamily(
            "agents_db_pool_waiting",
            "Requests waiting for a pool connection",
            value=status.waiting,
        )


class AppMetrics:
    """The app's registry and the metrics recorded on the request path."""

    __slots__ = ("_children", "latency", "rate_limited", "registry", "requests", "token")

    def __init__(self, database: Database, *, token: str | None = None) -> None:
        self.token = token
        self.registry = CollectorRegistry()
        labels = ("route", "method", "status")
        self.requests = Counter(
            "agents_http_requests",
            "HTTP requests answered, by route template, method and status",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "agents_http_request_duration_seconds",
            "Time to answer an HTTP request (until its last byte was handed to the server)",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "agents_rate_limited",
            "Requests refused by a rate limit, by the limit's kind",
            ("kind",),
            registry=self.registry,
        )
        self.registry.register(DatabasePoolCollector(database))
        ProcessCollector(registry=self.registry)
        # Label look-ups take a lock and build a key; a route, method and status seen once is
        # seen again, so its series are kept at hand.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            label_method = method if method in _METHODS else "OTHER"
            label_values = (route, label_method, str(status))
            children = (
                self.requests.labels(*label_values),
                self.latency.labels(*label_values),
            )
            if len(self._children) < 10_000:
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def accepts(self, authorization: str | None) -> bool:
        """Whether the ``Authorization`` header may read the metrics."""
        if self.token is None:
            return True
        if authorization is None:
            return False
        scheme, _, credential = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            credential.strip().encode(), self.token.encode()
        )


def record_rate_limited(connection: ASGIConnection[Any, Any, Any, Any] | Scope, kind: str) -> None:
    """Count one request refused by the rate limit ``kind`` (e.g. ``"login"``); nothing when
    the app runs without metrics."""
    scope = connection.scope if isinstance(connection, ASGIConnection) else connection
    metrics: AppMetrics | None = scope["litestar_app"].state.get("metrics")
    if metrics is not None:
        metrics.rate_limited.labels(kind).inc()


@get(
    "/metrics",
    include_in_schema=False,
    opt=PUBLIC,
    sync_to_thread=False,
    summary="Prometheus metrics",
)
def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    metrics: AppMetrics = request.app.state.metrics
    if not metrics.accepts(request.headers.get("authorization")):
        raise NotAuthorizedException("Missing or wrong metrics token")
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
