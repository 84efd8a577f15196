import time
from typing import Any

import structlog
from fastapi import APIRouter, Request, status
from sqlalchemy.exc import DBAPIError

from app import metrics
from app.db import is_transient
from app.deps import DatabaseDep, IngestAuth, SettingsDep
from app.exceptions import (
    BadRequest,
    ServiceUnavailable,
    TooManyBatches,
    error_responses,
)
from app.ingest import examples
from app.ingest.body import read_json
from app.ingest.parsing import ParseOptions, parse_batch, parse_batches
from app.ingest.schemas import IngestSummary
from app.ingest.service import store_batches

log = structlog.get_logger(__name__)

router = APIRouter(tags=["ingest"], dependencies=[IngestAuth])

ERROR_RESPONSES = error_responses(
    e400="Malformed JSON, a required field missing, or more than 100 batches.",
    e401="No credentials.",
    e403="Wrong credentials.",
    e413="Body over the size limit (256 KB by default).",
    e415="Content-Type is not JSON.",
    e422="A value is out of range (an MPID beyond 64 bits, say).",
    e503="Storage unavailable; nothing was stored. Retry after `Retry-After` seconds.",
)


@router.post(
    "/webhooks/mparticle",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ERROR_RESPONSES,
    openapi_extra=examples.request_body("Batch", examples.WEBHOOK, one_or_many=True),
)
async def receive_webhook(
    request: Request, settings: SettingsDep, database: DatabaseDep
) -> IngestSummary:
    """Take one batch or an array of batches from mParticle's webhook output."""
    payload = await read_json(request, settings.max_body_bytes)
    bulk = isinstance(payload, list)
    raw_batches = payload if bulk else [payload]
    return await _ingest(raw_batches, "webhook", settings, database, bulk=bulk)


@router.post(
    "/v2/events",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ERROR_RESPONSES,
    openapi_extra=examples.request_body("Batch", examples.EVENTS_API),
)
async def receive_events(
    request: Request, settings: SettingsDep, database: DatabaseDep
) -> IngestSummary:
    """Take one batch in the mParticle Events API's shape (mParticle server SDKs)."""
    payload = await read_json(request, settings.max_body_bytes)
    if not isinstance(payload, dict):
        raise BadRequest("body: /v2/events takes one batch object; use /v2/bulkevents")
    return await _ingest([payload], "events_api", settings, database, bulk=False)


@router.post(
    "/v2/bulkevents",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ERROR_RESPONSES,
    openapi_extra=examples.request_body("Batch", [examples.EVENTS_API], many=True),
)
async def receive_bulk_events(
    request: Request, settings: SettingsDep, database: DatabaseDep
) -> IngestSummary:
    """Take an array of up to 100 batches in the mParticle Events API's shape."""
    payload = await read_json(request, settings.max_body_bytes)
    if not isinstance(payload, list):
        raise BadRequest("body: /v2/bulkevents takes a JSON array of batches")
    return await _ingest(payload, "events_api", settings, database, bulk=True)


async def _ingest(
    raw_batches: list[Any],
    source: str,
    settings: SettingsDep,
    database: DatabaseDep,
    *,
    bulk: bool,
) -> IngestSummary:
    if len(raw_batches) > settings.max_bulk_batches:
        raise TooManyBatches(
            f"body: {len(raw_batches)} batches; at most "
            f"{settings.max_bulk_batches} are allowed per request"
        )
    options = ParseOptions(
        actions=frozenset(settings.interaction_actions),
        received_at_ms=int(time.time() * 1000),
        recommendation_attribute=settings.recommendation_id_attribute,
    )
    if bulk:
        parsed = parse_batches(raw_batches, options)
    else:
        parsed = [parse_batch(raw_batches[0], options)]
    try:
        async with database.write() as session:
            summary = await store_batches(session, parsed, source)
    except (DBAPIError, OSError) as exc:
        if not is_transient(exc):
            raise
        # Nothing was committed: the sender must retry, and will on a 503.
        log.warning("ingest.store_failed", source=source, error=type(exc).__name__)
        raise ServiceUnavailable("Storage is unavailable; retry later") from None
    metrics.count_ingest(source, **summary.model_dump())
    log.debug(
        "ingest.batches_stored",
        source=source,
        batches=summary.batches,
        interactions=summary.interactions,
        duplicates=summary.duplicates,
    )
    return summary
