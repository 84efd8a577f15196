"""Raw batches to a committed summary: every batch is validated before any is
stored, then all are stored in one transaction (see service.py), which
concurrent requests share (writer.py)."""

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import structlog
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app import metrics
from app.config import Settings
from app.db import is_transient
from app.exceptions import ServiceUnavailable
from app.ingest.parsing import ParsedBatch, ParseOptions, parse_batch
from app.ingest.schemas import IngestSummary
from app.ingest.service import IngestRequest
from app.ingest.writer import IngestWriter

log = structlog.get_logger(__name__)


async def accept_batches(
    raw_batches: Sequence[tuple[str, Any]],
    source: str,
    settings: Settings,
    writer: IngestWriter,
) -> IngestSummary:
    """Parse (path, batch) pairs, then store them all or nothing.

    The path names each batch in error messages ("[3]", "records[0]").
    """
    options = ParseOptions(
        actions=frozenset(settings.interaction_actions),
        received_at_ms=int(time.time() * 1000),
        recommendation_attribute=settings.recommendation_id_attribute,
    )
    parsed = [parse_batch(raw, options, path=path) for path, raw in raw_batches]
    summary = await _store(writer, IngestRequest(parsed, source))
    metrics.count_ingest(source, **summary.model_dump())
    log.debug(
        "ingest.batches_stored",
        source=source,
        batches=summary.batches,
        interactions=summary.interactions,
        duplicates=summary.duplicates,
        event_types=dict(_event_types(parsed)),
    )
    return summary


async def _store(writer: IngestWriter, request: IngestRequest) -> IngestSummary:
    try:
        return await writer.store(request)
    except PoolTimeout as exc:
        raise _unavailable(request.source, exc) from None
    except (DBAPIError, OSError) as exc:
        if not is_transient(exc):
            raise
        raise _unavailable(request.source, exc) from None


def _unavailable(source: str, exc: Exception) -> ServiceUnavailable:
    # Nothing was committed: the sender must retry, and will on a 503.
    log.warning("ingest.store_failed", source=source, error=type(exc).__name__)
    return ServiceUnavailable("Storage is unavailable; retry later")


def _event_types(parsed: list[ParsedBatch]) -> Counter[str]:
    # Every documented event type is accepted; the ones that are not commerce
    # are kept raw with their batch and counted here, not turned into rows.
    return Counter(event.event_type for batch in parsed for event in batch.events)
