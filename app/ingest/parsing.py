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

MAX_RECOMMENDATION_ID_CHARS = 64

# Validation errors that mean the payload does not have the shape of a batch
# (400, like mParticle) rather than a value outside what is allowed (422).
_SHAPE_ERRORS = frozenset(
    {
        "missing",
        "string_too_short",
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
class ParseOptions:
    """What turns events into interactions; fixed for one request."""

    actions: frozenset[str]
    received_at_ms: int
    # The custom attribute (on the product, else on the event) in which an app
    # passes back the recommendation_id of the list the user picked from.
    recommendation_attribute: str = "recommendation_id"


@dataclass(frozen=True, slots=True)
class InteractionRow:
    key: str
    event_key: str
    mpid: int
    item_id: str
    event_type: str
    session_id: str | None
    occurred_at_ms: int
    transaction_id: str | None = None
    recommendation_id: str | None = None


@dataclass(frozen=True, slots=True)
class ImpressionRow:
    """An item shown to the user in a product list, whether or not it was used."""

    key: str
    event_key: str
    mpid: int
    item_id: str
    list_name: str | None
    session_id: str | None
    occurred_at_ms: int


@dataclass(frozen=True, slots=True)
class TransactionRefund:
    """A refund of a whole transaction, which mParticle lets name no products.

    It becomes a refund of each item the transaction's purchase held, once
    that purchase is known (see the ingest service).
    """

    event_key: str
    mpid: int
    transaction_id: str
    session_id: str | None
    occurred_at_ms: int
    recommendation_id: str | None = None


@dataclass(slots=True)
class ParsedEvent:
    key: str
    event_type: str = ""
    interactions: list[InteractionRow] = field(default_factory=list)
    impressions: list[ImpressionRow] = field(default_factory=list)
    transaction_refund: TransactionRefund | None = None


@dataclass(slots=True)
class ParsedBatch:
    key: str
    mpid: int | None
    payload: str
    event_count: int
    events: list[ParsedEvent] = field(default_factory=list)

    @property
    def interactions(self) -> Iterator[InteractionRow]:
        for event in self.events:
            yield from event.interactions

    @property
    def impressions(self) -> Iterator[ImpressionRow]:
        for event in self.events:
            yield from event.impressions

    @property
    def transaction_refunds(self) -> Iterator[TransactionRefund]:
        for event in self.events:
            if event.transaction_refund is not None:
                yield event.transaction_refund


def parse_batches(
    raw_batches: Sequence[Any], options: ParseOptions
) -> list[ParsedBatch]:
    """Validate every batch of a request before any is stored: all or nothing."""
    return [
        parse_batch(raw, options, path=f"[{i}]") for i, raw in enumerate(raw_batches)
    ]


def parse_batch(raw: Any, options: ParseOptions, path: str = "") -> ParsedBatch:
    if not isinstance(raw, dict):
        raise BadRequest(f"{path or 'body'}: a batch must be a JSON object")
    batch = _validate(Batch, raw, path)
    batch_time_ms = batch.timestamp_unixtime_ms or options.received_at_ms
    parsed = ParsedBatch(
        key=batch_key(batch, raw),
        mpid=batch.mpid,
        # A number beyond a double's range (1e400) parses as infinity, which
        # JSON cannot write back; the raw copy keeps it as null.
        payload=to_json(raw, inf_nan_mode="null").decode(),
        event_count=len(batch.events),
    )
    for index, event in enumerate(batch.events):
        context = _EventContext(
            mpid=batch.mpid,
            batch_time_ms=batch_time_ms,
            options=options,
            path=f"{path}.events[{index}]".lstrip("."),
        )
        parsed.events.append(
            _parse_event(event.event_type, raw["events"][index], context)
        )
    return parsed


@dataclass(frozen=True, slots=True)
class _EventContext:
    mpid: int | None
    batch_time_ms: int
    options: ParseOptions
    path: str


def _parse_event(
    event_type: str, raw_event: dict[str, Any], context: _EventContext
) -> ParsedEvent:
    model = CommerceEventData if event_type == "commerce_event" else EventData
    data = _validate(model, raw_event["data"], f"{context.path}.data")
    parsed = ParsedEvent(
        key=event_key(data, context.mpid, raw_event), event_type=event_type
    )
    if isinstance(data, CommerceEventData) and context.mpid is not None:
        parsed.interactions = _interactions(data, parsed.key, context.mpid, context)
        parsed.impressions = _impressions(data, parsed.key, context.mpid, context)
        parsed.transaction_refund = _transaction_refund(
            data, parsed.key, context.mpid, context
        )
    return parsed


def _interactions(
    data: CommerceEventData, key: str, mpid: int, context: _EventContext
) -> list[InteractionRow]:
    action = data.product_action
    if action is None or action.action not in context.options.actions:
        return []
    attribute = context.options.recommendation_attribute
    event_recommendation = _attribute(data.custom_attributes, attribute)
    return [
        InteractionRow(
            key=f"{key}#{position}",
            event_key=key,
            mpid=mpid,
            item_id=product.id,
            event_type=action.action,
            session_id=_session(data),
            occurred_at_ms=data.timestamp_unixtime_ms or context.batch_time_ms,
            transaction_id=action.transaction_id,
            recommendation_id=_attribute(product.custom_attributes, attribute)
            or event_recommendation,
        )
        for position, product in enumerate(action.products)
        if product.id
    ]


def _transaction_refund(
    data: CommerceEventData, key: str, mpid: int, context: _EventContext
) -> TransactionRefund | None:
    action = data.product_action
    if action is None or action.action != "refund" or not action.transaction_id:
        return None
    if "refund" not in context.options.actions or any(p.id for p in action.products):
        return None
    return TransactionRefund(
        event_key=key,
        mpid=mpid,
        transaction_id=action.transaction_id,
        session_id=_session(data),
        occurred_at_ms=data.timestamp_unixtime_ms or context.batch_time_ms,
        recommendation_id=_attribute(
            data.custom_attributes, context.options.recommendation_attribute
        ),
    )


def _impressions(
    data: CommerceEventData, key: str, mpid: int, context: _EventContext
) -> list[ImpressionRow]:
    return [
        ImpressionRow(
            key=f"{key}#i{list_index}.{position}",
            event_key=key,
            mpid=mpid,
            item_id=product.id,
            list_name=impression.product_impression_list,
            session_id=_session(data),
            occurred_at_ms=data.timestamp_unixtime_ms or context.batch_time_ms,
        )
        for list_index, impression in enumerate(data.product_impressions)
        for position, product in enumerate(impression.products)
        if product.id
    ]


def _session(data: EventData) -> str | None:
    return data.session_uuid or data.session_id


def _attribute(attributes: dict[str, Any] | None, name: str) -> str | None:
    value = (attributes or {}).get(name)
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    # A recommendation_id that does not fit its column cannot be one of ours.
    if "\x00" in text or not 0 < len(text) <= MAX_RECOMMENDATION_ID_CHARS:
        return None
    return text


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
    if error["type"] in ("missing", "string_too_short"):
        return f'Required field "{location}" is missing or empty'
    return f'"{location}": {error["msg"]}'
