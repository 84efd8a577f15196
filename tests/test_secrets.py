"""Secrets never show: not in logs, error bodies, job errors or metrics."""

import pytest
import structlog
from sqlalchemy import select

from app.logging import configure_logging
from app.models import Job
from tests.batches import outbound_batch, product_event
from tests.fakes.mparticle import FakeEventsApi

pytestmark = pytest.mark.anyio

SECRETS = {
    "ingest_key": "ingest-key-7f3a91",
    "ingest_secret": "ingest-secret-9b2c44",
    "admin_key": "admin-key-51d0e8",
    "admin_secret": "admin-secret-c6a7f2",
    "recs_token": "recs-token-0e9d13",
    "mparticle_api_key": "mp-key-3b8e57",
    "mparticle_api_secret": "mp-secret-a4f6c9",
}


@pytest.fixture
def debug_logs():
    yield
    structlog.reset_defaults()
    configure_logging("WARNING")


async def test_no_secret_appears_anywhere_a_person_or_caller_can_read(
    start_app, database, capsys, debug_logs
) -> None:
    # mParticle refuses these credentials: the write-back error is recorded.
    with FakeEventsApi(api_key="other", api_secret="other") as events_api:
        app = await start_app(
            **SECRETS,
            log_level="DEBUG",
            log_json=True,
            mparticle_base_url=events_api.base_url,
        )
        bodies = await _exercise(app)
    async with database.read() as session:
        errors = [e for e in (await session.scalars(select(Job.last_error))) if e]
    metrics_text = (await app.client.get("/metrics")).text
    openapi = (await app.client.get("/openapi.json")).text

    logs = capsys.readouterr().err
    assert any("403" in error for error in errors)
    # The app logged at debug what it did, including the refused write-back.
    assert "worker.job_dead" in logs
    assert len(logs.splitlines()) > 5
    readable = [
        logs,
        *bodies,
        *errors,
        metrics_text,
        openapi,
    ]
    for name, secret in SECRETS.items():
        for text in readable:
            assert secret not in text, f"{name} leaked"


async def _exercise(app) -> list[str]:
    client = app.client
    key, secret = SECRETS["ingest_key"], SECRETS["ingest_secret"]
    admin = (SECRETS["admin_key"], SECRETS["admin_secret"])
    batch = outbound_batch(1, product_event("view_detail", "A", "B"))
    responses = [
        await client.post("/webhooks/mparticle", json=batch, auth=(key, secret)),
        await client.post("/webhooks/mparticle", json=batch, auth=(key, "wrong")),
        await client.post("/webhooks/mparticle", json=batch, auth=(secret, key)),
        await client.post("/v2/events", content=b"{", auth=(key, secret)),
        await client.get("/admin/jobs", auth=(key, secret)),
        await client.get("/admin/jobs", auth=admin),
        await client.get("/users/1/recs", auth=admin),
        await client.get(
            "/users/1/recs",
            headers={"Authorization": f"Bearer {SECRETS['recs_token']}x"},
        ),
        await client.delete("/users/2", auth=(SECRETS["recs_token"], "x")),
    ]
    await app.retrain()
    await app.run_jobs()
    return [response.text + str(response.headers) for response in responses]
