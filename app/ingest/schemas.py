"""mParticle batches as recloop reads them.

Lenient where mParticle varies (unknown fields and event types pass, both
forms of ``user_identities``), strict where it matters: the MPID, the event
envelope and the spelling of product actions.
"""

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from app.config import PRODUCT_ACTIONS

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def parse_mpid(value: Any) -> int:
    """An MPID is a signed 64-bit integer, sent as a JSON number or a decimal string.

    It never passes through a float: values above 2**53 would silently change.
    """
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        # JSON does not tell 143 from 143.0, and below 2**53 a double holds
        # every integer exactly; above it the sender's float already rounded.
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PydanticCustomError(
            "mpid_type",
            "must be an integer or a decimal string, not {kind}",
            {"kind": type(value).__name__},
        )
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if not digits.isascii() or not digits.isdigit() or len(digits) > 20:
            raise PydanticCustomError(
                "mpid_type", '"{value}" is not a decimal integer', {"value": value[:40]}
            )
        value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise PydanticCustomError(
            "mpid_range", "{value} is outside the signed 64-bit range", {"value": value}
        )
    return value


def _id_string(value: Any) -> Any:
    """Product and message ids arrive as strings or numbers; store one form."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000; refusing it keeps both databases
    # storing the same thing (and the raw JSON keeps it, escaped).
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain a NUL character")
    return value


def _empty_if_null(value: Any) -> Any:
    return [] if value is None else value


# What the OpenAPI document promises: any signed 64-bit number, or a decimal
# string short enough to be one whatever its digits.
MPID_JSON_SCHEMA = {
    "anyOf": [
        {"type": "integer", "minimum": INT64_MIN, "maximum": INT64_MAX},
        {"type": "string", "pattern": "^[+-]?[0-9]{1,18}$"},
    ],
    "description": "A signed 64-bit integer, as a JSON number or a decimal string.",
}
MpId = Annotated[int, BeforeValidator(parse_mpid), WithJsonSchema(MPID_JSON_SCHEMA)]
# Milliseconds since the epoch, as stored in a signed 64-bit column.
TimestampMs = Annotated[int, Field(ge=0, le=INT64_MAX)]
# Text recloop stores in a column of its own (ids, sessions, list names).
NO_NUL = Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})
StoredText = Annotated[str, AfterValidator(_no_nul), NO_NUL]
IdString = Annotated[str, BeforeValidator(_id_string), AfterValidator(_no_nul), NO_NUL]
ProductActionName = Literal[tuple(sorted(PRODUCT_ACTIONS))]  # type: ignore[valid-type]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Product(_Lenient):
    id: Annotated[IdString, Field(max_length=256)] | None = None
    name: str | None = None
    category: str | None = None
    custom_attributes: dict[str, Any] | None = None


class ProductAction(_Lenient):
    action: ProductActionName
    transaction_id: Annotated[IdString, Field(max_length=256)] | None = None
    products: Annotated[list[Product], BeforeValidator(_empty_if_null)] = []


class ProductImpression(_Lenient):
    product_impression_list: Annotated[StoredText, Field(max_length=256)] | None = None
    products: Annotated[list[Product], BeforeValidator(_empty_if_null)] = []


class EventData(_Lenient):
    """The fields of an event's ``data`` that recloop reads; the rest stays raw."""

    timestamp_unixtime_ms: TimestampMs | None = None
    message_id: IdString | None = None
    source_message_id: IdString | None = None
    event_id: IdString | None = None
    session_id: Annotated[IdString, Field(max_length=256)] | None = None
    session_uuid: Annotated[StoredText, Field(max_length=256)] | None = None
    custom_attributes: dict[str, Any] | None = None


class CommerceEventData(EventData):
    product_action: ProductAction | None = None
    product_impressions: Annotated[
        list[ProductImpression], BeforeValidator(_empty_if_null)
    ] = []


class Event(_Lenient):
    event_type: Annotated[str, Field(min_length=1)]
    data: dict[str, Any]


class UserIdentity(_Lenient):
    identity_type: str
    identity: IdString | None = None


class Batch(_Lenient):
    """One batch: one user's events. Outbound (webhook) and inbound (Events API)."""

    events: Annotated[list[Event], BeforeValidator(_empty_if_null)] = []
    mpid: MpId | None = None
    environment: Literal["production", "development"] | None = None
    batch_id: IdString | None = None
    source_request_id: IdString | None = None
    timestamp_unixtime_ms: TimestampMs | None = None
    user_identities: dict[str, Any] | list[UserIdentity] | None = None
    user_attributes: dict[str, Any] | None = None


class IngestSummary(BaseModel):
    batches: int = Field(description="Batches newly stored by this request.")
    interactions: int = Field(description="Interactions newly stored.")
    duplicates: int = Field(
        description="Batches and events skipped because they were already stored."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"batches": 1, "interactions": 2, "duplicates": 0}]
        }
    )

    @classmethod
    def nothing(cls) -> "IngestSummary":
        """The answer to a request that carried no batch (a connection check)."""
        return cls(batches=0, interactions=0, duplicates=0)


def normalized_identities(batch: Batch) -> dict[str, str]:
    """Both forms of ``user_identities`` as one map, ``customerid`` as ``customer_id``.

    The Events API documents an object keyed by identity type; the outbound
    format sends a list of ``{identity_type, identity}``; the official Python
    SDK spells the customer id key ``customerid``.
    """
    raw = batch.user_identities
    if raw is None:
        return {}
    if isinstance(raw, list):
        pairs = [(item.identity_type, item.identity) for item in raw]
    else:
        pairs = list(raw.items())
    return {
        ("customer_id" if key == "customerid" else key): str(value)
        for key, value in pairs
        if value is not None
    }
