from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic_core import to_json

from app.config import Settings
from app.deps import require_ingest_credentials
from app.exceptions import BadRequest, TooManyBatches, error_responses
from app.ingest import examples
from app.ingest.body import read_json
from app.ingest.pipeline import accept_batches
from app.ingest.schemas import IngestSummary
from app.ingest.writer import IngestWriter

# mParticle can send thousands of batches a second. FastAPI's dependency
# resolution and response validation cost more than parsing a small batch,
# so these routes take what they need from the app state (`_admitted`) and
# write their own JSON; the decorators still document every answer.
router = APIRouter(tags=["ingest"])

ERROR_RESPONSES = error_responses(
    e400="Malformed JSON, a required field missing, or more than 100 batches.",
    e401="No credentials.",
    e403="Wrong credentials.",
    e413="Body over the size limit (256 KB by default).",
    e415="Content-Type is not JSON.",
    e422="A value is out of range (an MPID beyond 64 bits, say).",
    e429="Too many requests in flight; nothing was stored. Retry after "
    "`Retry-After` seconds.",
    e503="Storage unavailable; nothing was stored. Retry after `Retry-After` seconds.",
)


@router.post(
    "/webhooks/mparticle",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ERROR_RESPONSES,
    openapi_extra=examples.request_body("Batch", examples.WEBHOOK, one_or_many=True),
    response_model=IngestSummary,
)
async def receive_webhook(request: Request) -> Response:
    """Take one batch or an array of batches from mParticle's webhook output."""
    async with _admitted(request) as (settings, writer):
        payload = await read_json(request, settings.max_body_bytes)
        if payload is None:
            return _accepted(IngestSummary.nothing())
        bulk = isinstance(payload, list)
        raw_batches = payload if bulk else [payload]
        return await _ingest(raw_batches, "webhook", settings, writer, bulk=bulk)


@router.post(
    "/v2/events",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ERROR_RESPONSES,
    openapi_extra=examples.request_body("Batch", examples.EVENTS_API),
    response_model=IngestSummary,
)
async def receive_events(request: Request) -> Response:
    """Take one batch in the mParticle Events API's shape (mParticle server SDKs)."""
    async with _admitted(request) as (settings, writer):
        payload = await read_json(request, settings.max_body_bytes)
        if payload is None:
            return _accepted(IngestSummary.nothing())
        if not isinstance(payload, dict):
            raise BadRequest(
                "body: /v2/events takes one batch object; use /v2/bulkevents"
            )
        return await _ingest([payload], "events_api", settings, writer, bulk=False)


@router.post(
    "/v2/bulkevents",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ERROR_RESPONSES,
    openapi_extra=examples.request_body("Batch", [examples.EVENTS_API], many=True),
    response_model=IngestSummary,
)
async def receive_bulk_events(request: Request) -> Response:
    """Take an array of up to 100 batches in the mParticle Events API's shape."""
    async with _admitted(request) as (settings, writer):
        payload = await read_json(request, settings.max_body_bytes)
        if payload is None:
            # mParticle's Python SDK sends no body at all for an empty list.
            return _accepted(IngestSummary.nothing())
        if not isinstance(payload, list):
            raise BadRequest("body: /v2/bulkevents takes a JSON array of batches")
        return await _ingest(payload, "events_api", settings, writer, bulk=True)


@asynccontextmanager
async def _admitted(request: Request) -> AsyncIterator[tuple[Settings, IngestWriter]]:
    """Checked credentials, then a slot among the requests in flight."""
    await require_ingest_credentials(request)
    state = request.app.state
    with state.ingest_limit.slot():
        yield state.settings, state.runtime.ingest_writer


def _accepted(summary: IngestSummary) -> Response:
    return Response(
        to_json(summary),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
    )


async def _ingest(
    raw_batches: list[Any],
    source: str,
    settings: Settings,
    writer: IngestWriter,
    *,
    bulk: bool,
) -> Response:
    if len(raw_batches) > settings.max_bulk_batches:
        raise TooManyBatches(
            f"body: {len(raw_batches)} batches; at most "
            f"{settings.max_bulk_batches} are allowed per request"
        )
    paths = [f"[{i}]" if bulk else "" for i in range(len(raw_batches))]
    summary = await accept_batches(
        list(zip(paths, raw_batches, strict=True)), source, settings, writer
    )
    return _accepted(summary)
