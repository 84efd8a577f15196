"""Cost of forwarding to Personalize in the refresh job, against the same run
without it.

Stores USERS x EVENTS interactions (SQLite in a temporary folder), then runs
every refresh job twice from the same state: once with the embedded
recommender (the baseline), once with Personalize forwarding every
interaction to a local server that speaks PutEvents (no campaign yet, so
both compute the same embedded lists). Prints interactions per second and
the ratio. Usage: python -m bench.personalize_forwarding [USERS] [EVENTS]
"""

import asyncio
import os
import sys
import tempfile
import time

import httpx
from sqlalchemy import delete, update

from app.config import Settings
from app.main import create_app
from app.migrations import upgrade_to_head
from app.models import CachedRecommendation, Interaction
from app.worker import queue
from tests.batches import outbound_batch, product_event
from tests.fakes.personalize import FakePersonalize


async def _run(settings: Settings, users: int, events: int, ingest: bool) -> float:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            auth=("bench", "bench-secret"),
        )
        runtime = app.state.runtime
        if ingest:
            for start in range(0, users, 50):
                batches = [
                    outbound_batch(
                        u,
                        *[
                            product_event("view_detail", f"SKU-{(u * 7 + e) % 300}")
                            for e in range(events)
                        ],
                    )
                    for u in range(start, min(users, start + 50))
                ]
                await client.post("/webhooks/mparticle", json=batches)
            await runtime.recommender.retrain()
        else:
            await _requeue(runtime, users)
        started = time.perf_counter()
        while await runtime.worker.run_once():
            pass
        return time.perf_counter() - started


async def _requeue(runtime, users: int) -> None:
    async with runtime.database.write() as session:
        await session.execute(update(Interaction).values(forwarded_at=None))
        await queue.enqueue(session, "refresh", [str(u) for u in range(users)])
        await session.execute(delete(CachedRecommendation))


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_EC2_METADATA_DISABLED="true",
    )
    folder = tempfile.mkdtemp(prefix="recloop-bench-")
    url = f"sqlite:///{folder}/bench.db"
    upgrade_to_head(url)
    fake = FakePersonalize().start()
    common = {
        "_env_file": None,
        "ingest_key": "bench",
        "ingest_secret": "bench-secret",
        "database_url": url,
        "worker_enabled": False,
        "retrain_min_interval_seconds": 3600,
        "log_level": "WARNING",
    }
    embedded = Settings(**common)
    personalize = Settings(
        **common,
        recommender="personalize",
        personalize_tracking_id=fake.tracking_id,
        personalize_events_endpoint_url=fake.url,
        personalize_region="us-east-1",
    )
    try:
        asyncio.run(_run(embedded, users, events, ingest=True))  # store + warm up
        baseline = asyncio.run(_run(embedded, users, events, ingest=False))
        forwarding = asyncio.run(_run(personalize, users, events, ingest=False))
    finally:
        fake.stop()
    total = users * events
    sent = len(fake.accepted_events)
    print(f"interactions: {total}, users: {users}, events forwarded: {sent}")
    print(f"refresh, embedded only:        {total / baseline:9.0f} interactions/s")
    print(f"refresh, forwarding to fake:   {total / forwarding:9.0f} interactions/s")
    print(f"time, forwarding / embedded:   {forwarding / baseline:9.2f}x")


if __name__ == "__main__":
    main()
