"""Generated mParticle batches through the parser and the HTTP routes.

Valid batches (both shapes, unknown fields anywhere, every event type) are
stored exactly once however often they are posted; a batch broken in one
place is refused naming it, with nothing stored; no input is a 500. The
suite runs the derandomized `suite` profile; `HYPOTHESIS_PROFILE=fuzz-long`
explores further.
"""

import asyncio
import copy
import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.config import PRODUCT_ACTIONS
from app.db import Database
from app.exceptions import BadRequest, ValueOutOfRange
from app.ingest.parsing import ParseOptions, parse_batch
from app.models import Batch, Interaction
from tests.conftest import INGEST_AUTH
from tests.server import ServerProcess

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
ACTIONS = frozenset({"view_detail", "add_to_cart", "add_to_wishlist", "purchase"})
OPTIONS = ParseOptions(actions=ACTIONS, received_at_ms=1_764_700_000_000)
# Lone surrogates are not Unicode and the JSON parser refuses them; text
# recloop stores in columns never holds U+0000 either (it is refused too).
UNICODE = st.characters(exclude_categories=["Cs"])
STORED = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
NAMES = st.text(STORED, min_size=1, max_size=12)
SCALARS = st.none() | st.booleans() | st.integers() | st.text(UNICODE, max_size=20)
JSON = st.recursive(
    SCALARS | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3)
    ),
    max_leaves=8,
)
EXTRA = st.dictionaries(NAMES.filter(lambda n: not n.startswith("_")), JSON, max_size=3)
KNOWN = {
    "mpid",
    "events",
    "environment",
    "batch_id",
    "source_request_id",
    "timestamp_unixtime_ms",
    "user_identities",
    "user_attributes",
    "message_id",
    "source_message_id",
    "event_id",
    "session_id",
    "session_uuid",
    "custom_attributes",
    "product_action",
    "product_impressions",
}

product = st.fixed_dictionaries(
    {"id": st.text(STORED, min_size=1, max_size=40) | st.integers(0, 10**12)},
    optional={"name": st.text(UNICODE, max_size=20), "price": st.floats(0, 1e6)},
)
commerce = st.fixed_dictionaries(
    {
        "product_action": st.fixed_dictionaries(
            {
                "action": st.sampled_from(sorted(PRODUCT_ACTIONS)),
                "products": st.lists(product, max_size=4),
            }
        ),
        "timestamp_unixtime_ms": st.integers(0, 2**62),
    }
)
other_data = st.fixed_dictionaries({"timestamp_unixtime_ms": st.integers(0, 2**62)})


@st.composite
def events(draw) -> dict:
    event_type = draw(
        st.sampled_from(["commerce_event", "custom_event", "screen_view"])
        | NAMES.filter(lambda name: name != "commerce_event")
    )
    data = draw(commerce if event_type == "commerce_event" else other_data)
    data.update(_unknown(draw(EXTRA)))
    return {"event_type": event_type, "data": data}


@st.composite
def batches(draw, outbound: bool) -> dict:
    identities = (
        [{"identity_type": "customer_id", "identity": draw(NAMES)}]
        if outbound
        else {draw(st.sampled_from(["customer_id", "customerid"])): draw(NAMES)}
    )
    batch = {
        "mpid": draw(INT64 | INT64.map(str)),
        "environment": draw(st.sampled_from(["production", "development"])),
        "user_identities": identities,
        "events": draw(st.lists(events(), max_size=4)),
    }
    batch.update(_unknown(draw(EXTRA)))
    return batch


def _unknown(fields: dict) -> dict:
    return {name: value for name, value in fields.items() if name not in KNOWN}


def keyed(batch: dict, outbound: bool) -> dict:
    """A copy with fresh keys, so each example is new to the database."""
    batch = copy.deepcopy(batch)
    batch["batch_id" if outbound else "source_request_id"] = str(uuid.uuid4())
    for event in batch["events"]:
        name = "message_id" if outbound else "source_message_id"
        event["data"][name] = str(uuid.uuid4())
    return batch


def expected_interactions(batch: dict) -> int:
    return sum(
        len(event["data"]["product_action"]["products"])
        for event in batch["events"]
        if event["event_type"] == "commerce_event"
        and event["data"]["product_action"]["action"] in ACTIONS
    )


BREAKAGES = {
    "no event_type": lambda b: b["events"][0].pop("event_type"),
    "no data": lambda b: b["events"][0].pop("data"),
    "data not an object": lambda b: b["events"][0].update(data=[1]),
    "event not an object": lambda b: b["events"].__setitem__(0, "event"),
    "events not a list": lambda b: b.update(events={"a": 1}),
    "mpid beyond 64 bits": lambda b: b.update(mpid=2**64),
    "mpid not a number": lambda b: b.update(mpid="12ab"),
    "misspelled action": lambda b: b["events"][0].update(
        event_type="commerce_event",
        data={"product_action": {"action": "remove_from_wishlist"}},
    ),
    "negative timestamp": lambda b: b.update(timestamp_unixtime_ms=-1),
    # PostgreSQL text cannot hold U+0000: refused on every database alike.
    "NUL in a product id": lambda b: b["events"].__setitem__(
        0,
        {
            "event_type": "commerce_event",
            "data": {
                "product_action": {"action": "purchase", "products": [{"id": "a\x00"}]}
            },
        },
    ),
}


def broken(batch: dict, breakage: str) -> dict:
    batch = copy.deepcopy(batch)
    if not batch["events"]:
        batch["events"].append({"event_type": "screen_view", "data": {}})
    BREAKAGES[breakage](batch)
    return batch


@given(batch=batches(outbound=True) | batches(outbound=False))
def test_the_parser_takes_every_valid_batch(batch) -> None:
    parsed = parse_batch(batch, OPTIONS)
    assert len(list(parsed.interactions)) == expected_interactions(batch)
    assert parsed.mpid == int(batch["mpid"])


@given(
    batch=batches(outbound=True) | batches(outbound=False),
    breakage=st.sampled_from(sorted(BREAKAGES)),
)
def test_the_parser_refuses_a_broken_batch(batch, breakage) -> None:
    with pytest.raises((BadRequest, ValueOutOfRange)):
        parse_batch(broken(batch, breakage), OPTIONS)


@pytest.fixture(scope="module")
def client(database_url: str, tmp_path_factory) -> Iterator[httpx.Client]:
    env = {
        "RECLOOP_DATABASE_URL": database_url,
        "RECLOOP_INGEST_KEY": INGEST_AUTH[0],
        "RECLOOP_INGEST_SECRET": INGEST_AUTH[1],
        "RECLOOP_WORKER_ENABLED": "false",
        "RECLOOP_LOG_LEVEL": "WARNING",
    }
    log = tmp_path_factory.mktemp("ingest-fuzz") / "serve.log"
    with (
        ServerProcess(env, log, "--no-worker") as server,
        httpx.Client(base_url=server.base_url, auth=INGEST_AUTH) as http,
    ):
        yield http


def _stored(database_url: str, key: str) -> tuple[int, int]:
    """(batch rows, interaction rows) stored under one batch key."""

    async def count() -> tuple[int, int]:
        database = Database.from_url(database_url)
        try:
            async with database.read() as session:
                batch_id = await session.scalar(
                    select(Batch.id).where(Batch.key == key)
                )
                batches = await session.scalar(
                    select(func.count()).select_from(Batch).where(Batch.key == key)
                )
                interactions = await session.scalar(
                    select(func.count())
                    .select_from(Interaction)
                    .where(Interaction.batch_id == batch_id)
                )
        finally:
            await database.dispose()
        return batches, interactions

    return asyncio.run(count())


JSON_HEADERS = {"content-type": "application/json"}
ROUTES = {"/webhooks/mparticle": True, "/v2/events": False, "/v2/bulkevents": False}


def _body(route: str, batch: dict) -> object:
    return [batch] if route == "/v2/bulkevents" else batch


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_valid_batches_are_stored_exactly_once(client, database_url, route) -> None:
    outbound = ROUTES[route]

    @given(batch=batches(outbound=outbound))
    def stored_once(batch) -> None:
        batch = keyed(batch, outbound)
        key = parse_batch(batch, OPTIONS).key
        first = client.post(route, json=_body(route, batch))
        again = client.post(route, json=_body(route, batch))

        assert first.status_code == again.status_code == 202, first.text
        assert first.json()["interactions"] == expected_interactions(batch)
        assert again.json()["batches"] == again.json()["interactions"] == 0
        assert _stored(database_url, key) == (1, expected_interactions(batch))

    stored_once()


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_broken_batches_are_refused_with_nothing_stored(
    client, database_url, route
) -> None:
    outbound = ROUTES[route]

    @given(
        batch=batches(outbound=outbound), breakage=st.sampled_from(sorted(BREAKAGES))
    )
    def refused(batch, breakage) -> None:
        valid = keyed(batch, outbound)
        key = parse_batch(valid, OPTIONS).key
        response = client.post(route, json=_body(route, broken(valid, breakage)))

        assert response.status_code in (400, 422), response.text
        assert response.json()["errors"][0]["message"]
        assert _stored(database_url, key) == (0, 0)

    refused()


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_no_json_at_all_is_a_500(client, route) -> None:
    @given(body=JSON)
    def never_500(body) -> None:
        content = json.dumps(body).encode()
        response = client.post(route, content=content, headers=JSON_HEADERS)
        assert response.status_code in (202, 400, 422), response.text

    never_500()
