import httpx
import pytest

from app.simulation.batches import session_batches
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
