"""Amazon Kinesis Data Firehose HTTP endpoint delivery of mParticle batches.

Teams that already stream mParticle to a Firehose delivery stream point its
HTTP endpoint destination here. Each record is one mParticle batch in the
outbound shape. Firehose's protocol (version 1.0) decides the answers:

- only 200 counts as delivered; every other status is retried with backoff
  (about 1 s, doubling to 2 min) until the stream's retry duration ends,
  and then the records go to the stream's S3 backup bucket;
- 413 is the exception: Firehose gives up at once and does not back the
  records up, so the body limit must stay above what the stream sends;
- Retry-After is not read; errors carry their reason in `errorMessage`,
  which Firehose copies to its logs and the backup bucket.
"""

import base64
import binascii
import time
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import from_json

from app.auth import secret_matches
from app.config import Settings
from app.deps import IngestWriterDep, SettingsDep
from app.exceptions import (
    BadRequest,
    CredentialsInvalid,
    CredentialsMissing,
    NotFound,
    RecloopError,
)
from app.ingest import examples
from app.ingest.body import read_json
from app.ingest.pipeline import accept_batches

log = structlog.get_logger(__name__)

router = APIRouter(tags=["ingest"])

ACCESS_KEY_HEADER = "x-amz-firehose-access-key"
REQUEST_ID_HEADER = "x-amz-firehose-request-id"
# Firehose keeps at most this much of an error message.
MAX_ERROR_MESSAGE_CHARS = 8192
# A record's data is at most 1,024,000 bytes before Base64.
MAX_RECORD_DATA_CHARS = 1_365_336


class FirehoseRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: Annotated[str, Field(max_length=MAX_RECORD_DATA_CHARS)] = ""


class FirehoseDelivery(BaseModel):
    """The body Firehose posts: its request id, its clock, the records."""

    model_config = ConfigDict(extra="ignore")

    requestId: str
    timestamp: int | None = None
    records: list[FirehoseRecord]


class FirehoseAnswer(BaseModel):
    """What Firehose expects back, on success and (with a message) on error."""

    requestId: str
    timestamp: int
    errorMessage: str | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "requestId": "ed4acda5-034f-9f42-bba1-f29aea6d7d8f",
                    "timestamp": 1764790003599,
                }
            ]
        }
    )


def _error(description: str) -> dict[str, Any]:
    return {"model": FirehoseAnswer, "description": description}


@router.post(
    "/firehose/mparticle",
    status_code=status.HTTP_200_OK,
    response_model=FirehoseAnswer,
    response_model_exclude_none=True,
    responses={
        400: _error("Malformed body or record; Firehose retries, then backs up."),
        401: _error("No X-Amz-Firehose-Access-Key header."),
        403: _error("Wrong access key."),
        404: _error("Firehose delivery is off (RECLOOP_FIREHOSE_ACCESS_KEY unset)."),
        413: _error("Body over RECLOOP_FIREHOSE_MAX_BODY_BYTES; Firehose drops it."),
        415: _error("Not JSON, or an encoding other than gzip."),
        422: _error("A value out of range in a record (an MPID, say)."),
        429: _error("Too many ingest requests in flight; Firehose retries."),
        503: _error("Storage unavailable; nothing was stored; Firehose retries."),
    },
    openapi_extra=examples.firehose_request_body(),
)
async def receive_firehose(
    request: Request, settings: SettingsDep, writer: IngestWriterDep
) -> JSONResponse:
    """Take an Amazon Kinesis Data Firehose delivery of mParticle batches."""
    request_id = request.headers.get(REQUEST_ID_HEADER, "")
    try:
        with request.app.state.ingest_limit.slot():
            _check_access_key(request, settings)
            delivery = _delivery(
                await read_json(request, settings.firehose_max_body_bytes)
            )
            request_id = delivery.requestId or request_id
            batches = _batches(delivery.records)
            summary = await accept_batches(batches, "firehose", settings, writer)
    except RecloopError as exc:
        log.warning(
            "ingest.firehose_refused",
            request_id=request_id,
            status=exc.status_code,
            error=exc.message[:200],
        )
        return _answer(exc.status_code, request_id, exc.message, exc.headers)
    log.info(
        "ingest.firehose_delivered",
        request_id=request_id,
        records=len(delivery.records),
        batches=summary.batches,
        interactions=summary.interactions,
        duplicates=summary.duplicates,
    )
    return _answer(status.HTTP_200_OK, request_id)


def _check_access_key(request: Request, settings: Settings) -> None:
    expected = settings.firehose_access_key
    # An empty key would let an empty header in: it counts as unset.
    if expected is None or not expected.get_secret_value():
        raise NotFound(
            "Firehose delivery is off; set RECLOOP_FIREHOSE_ACCESS_KEY to the "
            "stream's access key"
        )
    given = request.headers.get(ACCESS_KEY_HEADER)
    if given is None:
        raise CredentialsMissing("X-Amz-Firehose-Access-Key header is missing")
    if not secret_matches(given, expected):
        raise CredentialsInvalid("X-Amz-Firehose-Access-Key is invalid")


def _delivery(payload: Any) -> FirehoseDelivery:
    if not isinstance(payload, dict):
        raise BadRequest("body: a Firehose delivery must be a JSON object")
    try:
        return FirehoseDelivery.model_validate(payload)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise BadRequest("; ".join(_describe(error) for error in errors)) from None


def _describe(error: Any) -> str:
    location = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
    ).lstrip(".")
    return f'"{location}": {error["msg"]}'


def _batches(records: list[FirehoseRecord]) -> list[tuple[str, Any]]:
    """Each record's batch (or array of batches) with the path naming it."""
    batches: list[tuple[str, Any]] = []
    for index, record in enumerate(records):
        path = f"records[{index}]"
        content = _record_json(record, path)
        if isinstance(content, list):
            batches += [(f"{path}[{i}]", batch) for i, batch in enumerate(content)]
        elif content is not None:
            batches.append((path, content))
    return batches


def _record_json(record: FirehoseRecord, path: str) -> Any:
    try:
        data = base64.b64decode(record.data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f'"{path}.data": is not valid Base64') from None
    # Firehose permits empty records; they carry no batch.
    if not data.strip():
        return None
    try:
        return from_json(data, cache_strings="keys", allow_inf_nan=False)
    except ValueError as exc:
        raise BadRequest(f'"{path}.data": is not a JSON batch: {exc}') from None


def _answer(
    status_code: int,
    request_id: str,
    error_message: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "requestId": request_id,
        "timestamp": int(time.time() * 1000),
    }
    if error_message is not None:
        body["errorMessage"] = error_message[:MAX_ERROR_MESSAGE_CHARS]
    return JSONResponse(body, status_code=status_code, headers=headers)
