"""Prometheus metrics: what every recloop process counts, and how to read them.

Counters and histograms live in this process. Numbers that are the same for
every replica (the job queue) are read from the database when scraped, so
whichever replica answers tells the truth. With several server processes on
one port (uvicorn ``--workers``), set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory before they start: each process then writes its samples there and
any one of them answers a scrape with the sum of all.
"""

import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "recloop_http_requests",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "recloop_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["route"],
)
INGEST_BATCHES = Counter(
    "recloop_ingest_batches", "Batches newly stored, by ingest source.", ["source"]
)
INGEST_INTERACTIONS = Counter(
    "recloop_ingest_interactions",
    "Interactions newly stored, by ingest source.",
    ["source"],
)
INGEST_DUPLICATES = Counter(
    "recloop_ingest_duplicates",
    "Batches and events skipped because they were already stored.",
    ["source"],
)
JOBS_FINISHED = Counter(
    "recloop_jobs_finished",
    "Job runs by kind and outcome: completed, retried, deferred (downstream "
    "unavailable), dead, released (handed back at shutdown).",
    ["kind", "outcome"],
)
EXTERNAL_CALL_SECONDS = Histogram(
    "recloop_external_call_duration_seconds",
    "Time of calls to other services, by target and operation.",
    ["target", "operation"],
)
EXTERNAL_CALL_ERRORS = Counter(
    "recloop_external_call_errors",
    "Failed calls to other services, by target, operation and error class.",
    ["target", "operation", "error"],
)
RECS_SERVED = Counter(
    "recloop_recommendations_served",
    "Recommendation lists served over HTTP, by source.",
    ["source"],
)
RECS_CACHE_LOOKUPS = Counter(
    "recloop_recs_cache_lookups",
    "Recommendation cache lookups by result (hit or miss); the hit ratio is "
    'hit / (hit + miss): rate(...{result="hit"}) / rate(...).',
    ["result"],
)
USERS_ERASED = Counter("recloop_users_erased", "Users erased by DELETE /users/{mpid}.")
RAW_BATCHES_EXPIRED = Counter(
    "recloop_raw_batches_expired", "Raw batches deleted past their retention."
)


@lru_cache(maxsize=4096)
def child(metric: MetricWrapperBase, *labels: str) -> Any:
    """`metric.labels(*labels)`, looked up once: `labels()` validates and
    takes a lock on every call, which the hot paths pay per request."""
    return metric.labels(*labels)


def count_ingest(source: str, batches: int, interactions: int, duplicates: int) -> None:
    child(INGEST_BATCHES, source).inc(batches)
    child(INGEST_INTERACTIONS, source).inc(interactions)
    child(INGEST_DUPLICATES, source).inc(duplicates)


@asynccontextmanager
async def observe_call(target: str, operation: str) -> AsyncIterator[None]:
    """Time a call to another service and count it if it raises.

    ``async with observe_call("mparticle", "write_back"): await client.send(...)``
    """
    started = time.perf_counter()
    error = None
    try:
        yield
    except BaseException as exc:
        error = type(exc).__name__
        raise
    finally:
        record_call(target, operation, time.perf_counter() - started, error)


def record_call(
    target: str, operation: str, seconds: float, error: str | None = None
) -> None:
    """Count one call to another service that took `seconds` and maybe failed."""
    EXTERNAL_CALL_SECONDS.labels(target, operation).observe(seconds)
    if error is not None:
        EXTERNAL_CALL_ERRORS.labels(target, operation, error).inc()


class _Snapshot(Collector):
    """Metric families computed for one scrape (from the database)."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self._families = families

    def collect(self):
        return iter(self._families)


def process_registry() -> CollectorRegistry:
    """This process's metrics, or all processes' in multiprocess mode."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def render(families: list[GaugeMetricFamily]) -> bytes:
    """The exposition text: process metrics plus the families read at scrape time."""
    snapshot = CollectorRegistry(auto_describe=False)
    snapshot.register(_Snapshot(families))
    return generate_latest(process_registry()) + generate_latest(snapshot)


CONTENT_TYPE = CONTENT_TYPE_LATEST


class RequestMetrics:
    """ASGI middleware counting requests by route template, never by raw path.

    Raw paths hold MPIDs: as labels they would be personal data and an
    unbounded number of series.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def record_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = _route_template(scope)
            child(HTTP_REQUESTS, route, scope["method"], str(status["code"])).inc()
            child(HTTP_SECONDS, route).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
