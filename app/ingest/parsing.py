"""Batches to interactions: validation, stable keys and one row per product."""

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, to_json

from app.exceptions import BadRequest, ValueOutOfRange
from app.ingest.schemas import Batch, CommerceEventData, EventData

ModelT = TypeVar("ModelT", bound=BaseModel)

# Validation errors that mean the payload does not have the shape of a batch
# (400, like mParticle) rather than a value outside what is allowed (422).
_SHAPE_ERRORS = frozenset(
    {
        "missing",
        "model_type",
        "model_attributes_type",
        "list_type",
        "dict_type",
        "string_type",
        "int_type",
        "int_parsing",
        "union_tag_invalid",
    }
)


@dataclass(frozen=True, slots=True)
class InteractionRow:
    key: str
    event_key: str
    mpid: int
    item_id: str
    event_type: str
    session_id: str | None
    occurred_at_ms: int


@dataclass(slots=True)
class ParsedBatch:
    key: str
    mpid: int | None
    payload: str
    event_count: int
    # Every event's key, in order, with the interactions it produced.
    events: list[tuple[str, list[InteractionRow]]] = field(default_factory=list)

    @property
    def interactions(self) -> Iterator[InteractionRow]:
        for _, rows in self.events:
            yield from rows


def parse_batches(
    raw_batches: Sequence[Any], *, actions: frozenset[str], received_at_ms: int
) -> list[ParsedBatch]:
    """Validate every batch of a request before any is stored: all or nothing."""
    return [
        parse_batch(raw, actions=actions, received_at_ms=received_at_ms, path=f"[{i}]")
        for i, raw in enumerate(raw_batches)
    ]


def parse_batch(
    raw: Any, *, actions: frozenset[str], received_at_ms: int, path: str = ""
) -> ParsedBatch:
    if not isinstance(raw, dict):
        raise BadRequest(f"{path or 'body'}: a batch must be a JSON object")
    batch = _validate(Batch, raw, path)
    batch_time_ms = batch.timestamp_unixtime_ms or received_at_ms
    parsed = ParsedBatch(
        key=batch_key(batch, raw),
        mpid=batch.mpid,
        payload=to_json(raw).decode(),
        event_count=len(batch.events),
    )
    for index, event in enumerate(batch.events):
        event_path = f"{path}.events[{index}]".lstrip(".")
        parsed.events.append(
            _parse_event(
                event.event_type,
                raw["events"][index],
                batch.mpid,
                batch_time_ms,
                actions,
                event_path,
            )
        )
    return parsed


def _parse_event(
    event_type: str,
    raw_event: dict[str, Any],
    mpid: int | None,
    batch_time_ms: int,
    actions: frozenset[str],
    path: str,
) -> tuple[str, list[InteractionRow]]:
    model = CommerceEventData if event_type == "commerce_event" else EventData
    data = _validate(model, raw_event["data"], f"{path}.data")
    key = event_key(data, mpid, raw_event)
    if not isinstance(data, CommerceEventData) or mpid is None:
        return key, []
    action = data.product_action
    if action is None or action.action not in actions:
        return key, []
    rows = [
        InteractionRow(
            key=f"{key}#{position}",
            event_key=key,
            mpid=mpid,
            item_id=product.id,
            event_type=action.action,
            session_id=data.session_uuid or data.session_id,
            occurred_at_ms=data.timestamp_unixtime_ms or batch_time_ms,
        )
        for position, product in enumerate(action.products)
        if product.id
    ]
    return key, rows


def batch_key(batch: Batch, raw: dict[str, Any]) -> str:
    for name in ("batch_id", "source_request_id"):
        value = getattr(batch, name)
        if value:
            return _named_key(name, value)
    return f"sha256:{_digest(raw)}"


def event_key(data: EventData, mpid: int | None, raw_event: dict[str, Any]) -> str:
    for name in ("message_id", "source_message_id", "event_id"):
        value = getattr(data, name)
        if value:
            return _named_key(name, value)
    return f"sha256:{_digest({'mpid': mpid, 'event': raw_event})}"


def _named_key(name: str, value: str) -> str:
    # Keys fit their column whatever the sender's id length; a long id is
    # replaced by its digest rather than cut, so two ids never collide.
    if len(value) > 200:
        value = "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return f"{name}:{value}"


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _validate(model: type[ModelT], raw: Any, path: str) -> ModelT:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _as_request_error(exc, path) from None


def _as_request_error(exc: ValidationError, path: str) -> BadRequest | ValueOutOfRange:
    errors = exc.errors(include_url=False, include_input=False)
    messages = [_describe(error, path) for error in errors]
    if any(error["type"] in _SHAPE_ERRORS for error in errors):
        return BadRequest("; ".join(messages))
    return ValueOutOfRange("; ".join(messages))


def _describe(error: ErrorDetails, path: str) -> str:
    location = path
    for part in error["loc"]:
        location += f"[{part}]" if isinstance(part, int) else f".{part}"
    location = location.lstrip(".") or "body"
    if error["type"] == "missing":
        return f'Required field "{location}" is missing'
    return f'"{location}": {error["msg"]}'
