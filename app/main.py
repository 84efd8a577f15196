"""The FastAPI application: routes, error handling and the lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.config import Settings, load_settings
from app.exceptions import install_error_handlers
from app.health.endpoints import router as health_router
from app.impact.endpoints import router as impact_router
from app.ingest.admission import InFlightLimit
from app.ingest.endpoints import router as ingest_router
from app.ingest.firehose import router as firehose_router
from app.ingest.schemas import Batch
from app.items.endpoints import router as items_router
from app.logging import configure_logging
from app.recs.endpoints import router as recs_router
from app.runtime import Runtime

log = structlog.get_logger(__name__)

DESCRIPTION = """\
recloop takes mParticle commerce events, keeps every user's product
recommendations fresh, serves them, and writes them back to mParticle.

Ingest routes take mParticle batches (webhook output and Events API shapes)
with HTTP Basic credentials and answer 202 once the data is committed.
Errors use mParticle's shape: `{"errors": [{"code": ..., "message": ...}]}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    if settings is None:
        settings = load_settings()
    settings.check_production_safety()
    configure_logging(settings.log_level, json=settings.json_logs)
    if not settings.ingest_auth_enabled:
        log.warning(
            "config.ingest_open",
            reason="RECLOOP_INGEST_KEY and RECLOOP_INGEST_SECRET are unset; "
            "ingest accepts unauthenticated requests (development only)",
        )
    app = FastAPI(
        title="recloop",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.ingest_limit = InFlightLimit(
        settings.ingest_max_in_flight, settings.ingest_retry_after_seconds
    )
    install_error_handlers(app)
    app.include_router(ingest_router)
    app.include_router(firehose_router)
    app.include_router(recs_router)
    app.include_router(items_router)
    app.include_router(impact_router)
    app.include_router(health_router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    runtime = Runtime(settings, run_worker=settings.worker_enabled)
    await runtime.start()
    app.state.runtime = runtime
    app.state.database = runtime.database
    app.state.recs = runtime.recs
    try:
        yield
    finally:
        await runtime.stop()


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    # Ingest routes read their body by hand; publish the batch schema they
    # reference so the document is complete.
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    batch_schema = Batch.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(batch_schema.pop("$defs", {}))
    components["Batch"] = batch_schema
    app.openapi_schema = schema
    return schema
