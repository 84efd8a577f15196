import time
from itertools import pairwise

import httpx
import pytest
from sqlalchemy import func, select

from app.models import Interaction
from app.simulation.batches import restamped, session_batches
from app.simulation.latent import SimulationConfig
from app.simulation.posting import PostingFailed, post_batches
from app.simulation.shopping import simulate
from tests.conftest import INGEST_AUTH
from tests.simulation.conftest import END_MS

pytestmark = pytest.mark.anyio


async def test_posting_sends_every_batch_with_ingest_credentials(start_app):
    app = await start_app()
    small = simulate(SimulationConfig(users=10, items=20, categories=2), END_MS)
    batches = list(session_batches(small, "inbound"))
    transport = httpx.ASGITransport(app=app.app)

    summary = await post_batches(
        batches,
        "http://recloop.test",
        "inbound",
        rate_per_second=10_000,
        auth=INGEST_AUTH,
        transport=transport,
    )

    assert summary.batches == len(batches)
    assert summary.requests == -(-len(batches) // 10)
    assert summary.interactions > 0


async def test_posting_with_wrong_credentials_fails_naming_the_status(start_app):
    app = await start_app()
    small = simulate(SimulationConfig(users=2, items=5, categories=1), END_MS)
    with pytest.raises(PostingFailed, match="answered 403"):
        await post_batches(
            session_batches(small, "outbound"),
            "http://recloop.test",
            "outbound",
            rate_per_second=10_000,
            auth=("wrong", "credentials"),
            transport=httpx.ASGITransport(app=app.app),
        )


async def test_live_posting_stamps_batches_with_the_time_they_are_sent(
    start_app, database
):
    app = await start_app()
    small = simulate(SimulationConfig(users=5, items=20, categories=2), END_MS)
    sent_after_ms = int(time.time() * 1000)
    await post_batches(
        session_batches(small, "outbound"),
        "http://recloop.test",
        "outbound",
        rate_per_second=10_000,
        auth=INGEST_AUTH,
        transport=httpx.ASGITransport(app=app.app),
        live=True,
    )
    async with database.read() as session:
        oldest = await session.scalar(select(func.min(Interaction.occurred_at_ms)))
    assert oldest >= sent_after_ms


def test_restamping_keeps_the_spacing_of_a_batch_s_events():
    small = simulate(SimulationConfig(users=5, items=20, categories=2), END_MS)
    batch = next(b for b in session_batches(small, "outbound") if len(b["events"]) > 1)
    times = [e["data"]["timestamp_unixtime_ms"] for e in batch["events"]]
    restamped(batch, 5_000)
    moved = [e["data"]["timestamp_unixtime_ms"] for e in batch["events"]]
    assert moved[0] == 5_000
    assert [b - a for a, b in pairwise(moved)] == [b - a for a, b in pairwise(times)]
