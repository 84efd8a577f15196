import json
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import func, select

from app.config import Settings
from app.models import Interaction
from app.simulation.batches import session_batches
from app.simulation.latent import SimulationConfig
from app.simulation.shopping import simulate
from tests.simulation.conftest import END_MS

pytestmark = pytest.mark.anyio

# What recloop stores by default: refunds and removals too.
STORED = set(Settings(_env_file=None).interaction_actions)
INBOUND_SCHEMA = (
    Path(__file__).parents[1] / "fixtures/mparticle.inbound.eventsapi.schema.json"
)


@pytest.fixture(scope="module")
def small():
    return simulate(SimulationConfig(users=40, items=60, categories=4), END_MS)


def test_the_two_shapes_carry_mparticle_s_own_keys(small):
    outbound = next(session_batches(small, "outbound"))
    inbound = next(session_batches(small, "inbound"))
    assert isinstance(outbound["user_identities"], list)
    assert {"batch_id", "message_id", "mpid"} <= set(outbound)
    assert "message_id" in outbound["events"][0]["data"]
    assert isinstance(inbound["user_identities"], dict)
    assert "source_request_id" in inbound
    assert "source_message_id" in inbound["events"][0]["data"]
    assert list(session_batches(small, "inbound")) == list(
        session_batches(small, "inbound")
    )


@pytest.mark.parametrize(
    ("shape", "path"),
    [("outbound", "/webhooks/mparticle"), ("inbound", "/v2/bulkevents")],
)
async def test_recloop_stores_every_simulated_interaction_once(
    start_app, database, small, shape, path
):
    app = await start_app()
    batches = list(session_batches(small, shape))
    expected = sum(1 for e in small.events if e.action in STORED)
    for start in range(0, len(batches), 50):
        response = await app.client.post(path, json=batches[start : start + 50])
        assert response.status_code == 202, response.text
    again = await app.client.post(path, json=batches[:50])

    async with database.read() as session:
        stored = await session.scalar(select(func.count()).select_from(Interaction))
    assert stored == expected
    assert again.json()["interactions"] == 0
    assert again.json()["batches"] == 0


def test_inbound_batches_follow_mparticle_s_official_schema(small):
    schema = json.loads(INBOUND_SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.FormatChecker()
    )
    for batch in session_batches(small, "inbound"):
        errors = [error.message for error in validator.iter_errors(batch)]
        assert errors == []
    # The schema does catch a misspelt action: the check above can fail.
    batch["events"][0]["data"]["product_action"]["action"] = "remove_from_wishlist"
    assert list(validator.iter_errors(batch))
