"""The FastAPI application: routes, error handling and the lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.admin.endpoints import router as admin_router
from app.config import Settings, load_settings
from app.cors import RecommendationCORS
from app.exceptions import ErrorResponse, install_error_handlers
from app.health.endpoints import router as health_router
from app.health.metrics import router as metrics_router
from app.impact.endpoints import router as impact_router
from app.ingest.admission import InFlightLimit
from app.ingest.endpoints import router as ingest_router
from app.ingest.fast_path import IngestFastPath
from app.ingest.firehose import router as firehose_router
from app.ingest.schemas import Batch, CommerceEventData
from app.items.endpoints import router as items_router
from app.logging import configure_logging
from app.metrics import RequestMetrics
from app.privacy.endpoints import router as privacy_router
from app.recs.endpoints import router as recs_router
from app.recs.fast_path import CachedRecsFastPath
from app.runtime import Runtime

log = structlog.get_logger(__name__)

_REF = "#/components/schemas/{model}"

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
    if not settings.admin_auth_enabled:
        log.warning(
            "config.admin_open",
            reason="RECLOOP_ADMIN_KEY and RECLOOP_ADMIN_SECRET are unset; "
            "admin routes and DELETE /users/{mpid} are open (development only)",
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
    # Routes match in order: the one apps call on every page view first.
    app.include_router(recs_router)
    app.include_router(ingest_router)
    app.include_router(firehose_router)
    app.include_router(items_router)
    app.include_router(impact_router)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(admin_router)
    app.include_router(privacy_router)
    # Inside CORS and the request metrics, so both apply to what they answer.
    app.add_middleware(CachedRecsFastPath)
    app.add_middleware(IngestFastPath)
    if settings.cors_origins:
        app.add_middleware(RecommendationCORS, origins=settings.cors_origins)
    app.add_middleware(RequestMetrics)
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
    batch_schema = Batch.model_json_schema(ref_template=_REF)
    components.update(batch_schema.pop("$defs", {}))
    components["Batch"] = batch_schema
    # An event's `data` is read by its own model once the envelope is valid;
    # the commerce model covers every event type (others ignore its fields).
    data_schema = CommerceEventData.model_json_schema(ref_template=_REF)
    components.update(data_schema.pop("$defs", {}))
    components["CommerceEventData"] = data_schema
    components["Event"]["properties"]["data"] = {
        "$ref": _REF.format(model="CommerceEventData")
    }
    _document_validation_errors(schema)
    _document_security(schema)
    app.openapi_schema = schema
    return schema


def _document_validation_errors(schema: dict[str, Any]) -> None:
    """Describe FastAPI's own 422s as what recloop sends: the one error shape."""
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            content = operation.get("responses", {}).get("422", {}).get("content", {})
            media = content.get("application/json", {})
            if media.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                media["schema"] = error_ref
    components = schema["components"]["schemas"]
    components.setdefault(
        "ErrorResponse", ErrorResponse.model_json_schema(ref_template=_REF)
    )
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


# Which credentials each tag's routes take. Recommendations need the bearer
# token only when RECLOOP_RECS_TOKEN is set, hence the empty alternative.
SECURITY_BY_TAG: dict[str, list[dict[str, list[str]]]] = {
    "ingest": [{"ingestBasic": []}],
    "admin": [{"adminBasic": []}],
    "privacy": [{"adminBasic": []}],
    "recommendations": [{"recsBearer": []}, {}],
}
SECURITY_SCHEMES = {
    "ingestBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "RECLOOP_INGEST_KEY and RECLOOP_INGEST_SECRET.",
    },
    "adminBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "RECLOOP_ADMIN_KEY and RECLOOP_ADMIN_SECRET.",
    },
    "recsBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "RECLOOP_RECS_TOKEN, when it is set.",
    },
}


def _document_security(schema: dict[str, Any]) -> None:
    schema["components"]["securitySchemes"] = SECURITY_SCHEMES
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for tag in operation.get("tags", []):
                if tag in SECURITY_BY_TAG:
                    operation["security"] = SECURITY_BY_TAG[tag]
