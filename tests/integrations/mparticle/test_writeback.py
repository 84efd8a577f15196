"""Write-back as mParticle wants it, through the app and its worker lanes,
against the local Events API: bulk requests, pauses on 429, backoff on 5xx,
final errors, exactly one delivery per change, never an erased user."""

import contextlib
import itertools

import pytest
from sqlalchemy import delete, select, update

from app.integrations.mparticle.gate import SendRate, WritebackGate
from app.integrations.mparticle.writeback import Writeback
from app.models import CachedRecommendation, Interaction, Job, JobStatus
from app.worker import queue
from tests.batches import inbound_batch, outbound_batch, product_event
from tests.fakes.mparticle import Reply
from tests.integrations.mparticle.conftest import (
    cached_lists,
    jobs,
    running_workers,
    shop,
    wait_until,
)

pytestmark = pytest.mark.anyio

USERS = list(range(1000, 1012))


def _delivered(events_api, lists: dict[int, list[str]]) -> bool:
    return all(
        events_api.profiles.get(mpid, {}).get("product_recs") == items
        for mpid, items in lists.items()
    )


async def test_throttled_then_failing_mparticle_gets_every_latest_list_once(
    writeback_app, database, events_api
) -> None:
    app = await writeback_app()
    await shop(app, USERS)
    events_api.script(Reply(429, headers={"Retry-After": "1"}), Reply(503))

    async with running_workers(app):
        await wait_until(lambda: _paused(app))
        # Write-back is paused for a second; ingest answers all the while.
        for mpid in USERS[:4]:
            response = await app.client.post(
                "/v2/events", json=_inbound(mpid, "SKU-30")
            )
            assert response.status_code == 202
        await app.retrain()
        await wait_until(lambda: _settled(database, events_api))
        first_round = {m: len(events_api.changes[m]) for m in USERS}

        # A second change goes out once more; unchanged users get nothing.
        await shop(app, USERS[:3], offset=20)
        await wait_until(lambda: _settled(database, events_api))
        new_lists = await cached_lists(database)

    assert events_api.statuses[:2] == [429, 503]
    assert events_api.invalid == []
    for mpid in USERS:
        history = [change["product_recs"] for change in events_api.changes[mpid]]
        # Exactly one delivery per change of the list, ending with the latest.
        assert history[-1] == new_lists[mpid]
        assert all(a != b for a, b in itertools.pairwise(history))
    assert all(len(events_api.changes[m]) > first_round[m] for m in USERS[:3])
    assert all(len(events_api.changes[m]) == first_round[m] for m in USERS[3:])
    assert events_api.duplicate_batches == 0
    assert any(r.path == "/v2/bulkevents" for r in events_api.accepted)


async def _paused(app) -> bool:
    return app.runtime.writeback_gate.paused_for() > 0


async def _settled(database, events_api) -> bool:
    """No job left, and mParticle holds every user's cached list."""
    if await jobs(database):
        return False
    return _delivered(events_api, await cached_lists(database))


def _inbound(mpid: int, sku: str) -> dict:
    return inbound_batch(mpid, product_event("add_to_cart", sku, outbound=False))


async def test_ingest_answers_while_write_back_is_paused(
    writeback_app, database, events_api
) -> None:
    app = await writeback_app()
    await shop(app, USERS[:2])
    events_api.script(Reply(429, headers={"Retry-After": "60"}))

    async with running_workers(app):
        await wait_until(lambda: _paused(app))
        responses = [
            await app.client.post("/v2/events", json=_inbound(mpid, "SKU-31"))
            for mpid in range(2000, 2020)
        ]
        assert {response.status_code for response in responses} == {202}
        assert app.runtime.writeback_gate.paused_for() > 30
        # Refreshes run too: the new users got lists while write-back waits.
        await wait_until(lambda: _has_lists(database, range(2000, 2020)))

    assert len(events_api.requests) == 1
    sync_jobs = [job for job in await jobs(database) if job[0] == "sync"]
    assert {status for _, _, status, _ in sync_jobs} == {JobStatus.pending}
    # A 429 is not a failure: the jobs kept every attempt.
    assert {attempts for *_, attempts in sync_jobs} == {0}


async def _has_lists(database, mpids) -> bool:
    return set(mpids) <= set(await cached_lists(database))


async def test_429_without_retry_after_backs_off_and_uses_no_attempt(
    writeback_app, database, events_api
) -> None:
    app = await writeback_app(job_max_attempts=1)
    await shop(app, USERS[:3])
    events_api.script(Reply(429), Reply(429), Reply(429))

    async with running_workers(app):
        await wait_until(lambda: _settled(database, events_api))

    assert events_api.statuses[:3] == [429, 429, 429]
    assert set(events_api.statuses[3:]) == {202}
    assert set(events_api.profiles) == set(USERS[:3])


async def test_a_lost_answer_is_resent_and_applied_once(
    writeback_app, database, events_api
) -> None:
    app = await writeback_app(mparticle_timeout_seconds=0.3)
    await shop(app, USERS[:3])
    # mParticle takes the batches but answers after recloop gave up.
    events_api.script(Reply(202, delay_seconds=1.0))

    async with running_workers(app):
        await wait_until(lambda: _settled(database, events_api))

    lost, *later = events_api.accepted
    resent = [b["source_request_id"] for r in later for b in r.batches]
    assert {b["source_request_id"] for b in lost.batches} <= set(resent)
    assert events_api.duplicate_batches == len(lost.batches)
    assert {len(events_api.changes[mpid]) for mpid in USERS[:3]} == {1}


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(400), "400"),
        (Reply(401), "401"),
        (Reply(403), "403"),
    ],
)
async def test_requests_mparticle_refuses_are_dead_with_its_message(
    writeback_app, database, events_api, reply, message
) -> None:
    app = await writeback_app()
    await shop(app, USERS[:2])
    if reply.status == 400:
        reply.body = {"errors": [{"code": "BAD_REQUEST", "message": "too long"}]}
        message = "too long"
    events_api.script(reply)
    await app.run_jobs()

    async with database.read() as session:
        dead = (await session.scalars(select(Job).where(Job.kind == "sync"))).all()
    assert {job.status for job in dead} == {JobStatus.dead}
    assert all(message in job.last_error for job in dead)
    assert events_api.profiles == {}


async def test_write_back_stays_below_mparticles_rate_limit(
    writeback_app, database, events_api
) -> None:
    events_api.rate_limit(30, retry_after_seconds=5)
    app = await writeback_app(mparticle_max_batches_per_second=25)
    users = list(range(3000, 3060))
    await shop(app, users)

    async with running_workers(app):
        await wait_until(lambda: _settled(database, events_api))

    assert 429 not in events_api.statuses
    assert max(len(request.batches) for request in events_api.requests) <= 25
    assert set(events_api.profiles) == set(users)


async def test_a_user_erased_while_the_request_waits_is_not_sent(
    writeback_app, database, events_api
) -> None:
    app = await writeback_app()
    await shop(app, USERS[:3])
    await app.run_jobs()
    erased = USERS[1]
    # New lists for all three, to write back; then claim their sync jobs.
    async with database.write() as session:
        await session.execute(update(CachedRecommendation).values(synced_item_ids=None))
        await queue.enqueue(session, "sync", [str(m) for m in USERS[:3]])
    async with database.write() as session:
        claimed = await queue.claim(session, "test", 10, 60, kinds={"sync"})
    events_api.requests.clear()

    class ErasingRate(SendRate):
        @contextlib.asynccontextmanager
        async def sending(self, batches: int):
            # The erasure commits while the request waits for its turn.
            async with database.write() as session:
                for model in (CachedRecommendation, Interaction):
                    await session.execute(delete(model).where(model.mpid == erased))
            async with super().sending(batches):
                yield

    gate = WritebackGate(100, 0.05, 0.2)
    gate.rate = ErasingRate(100)
    client = app.runtime.writeback
    outcomes = await Writeback(database, client, gate, app.app.state.settings).deliver(
        claimed
    )

    assert set(outcomes.values()) == {None}
    [request] = events_api.requests
    assert sorted(batch["mpid"] for batch in request.batches) == [USERS[0], USERS[2]]


async def test_a_list_deleted_before_its_sync_sends_nothing(
    writeback_app, database, events_api
) -> None:
    app = await writeback_app()
    await shop(app, USERS[:3])
    while await app.runtime.worker.run_once():
        pass  # the refreshes, which queue the write-backs
    async with database.write() as session:
        await session.execute(
            delete(CachedRecommendation).where(CachedRecommendation.mpid == USERS[0])
        )
    await app.run_jobs()

    assert USERS[0] not in events_api.profiles
    assert set(events_api.profiles) == set(USERS[1:3])
    assert await jobs(database) == []


async def test_an_unchanged_list_is_not_sent_and_a_new_one_replaces_it(
    writeback_app, database, events_api
) -> None:
    app = await writeback_app()
    await shop(app, USERS[:4])
    await app.run_jobs()
    first = (await cached_lists(database))[USERS[0]]
    sent = len(events_api.requests)
    for _ in range(3):
        await app.runtime.recs.refresh(USERS[0])
    await app.run_jobs()
    assert len(events_api.requests) == sent

    # Buying what was recommended changes the list: bought items never show.
    batch = outbound_batch(USERS[0], product_event("purchase", *first))
    assert (await app.client.post("/webhooks/mparticle", json=batch)).is_success
    await app.retrain()
    await app.run_jobs()

    latest = (await cached_lists(database))[USERS[0]]
    assert latest != first
    assert events_api.profiles[USERS[0]] == {"product_recs": latest}
    assert [c["product_recs"] for c in events_api.changes[USERS[0]]] == [
        first,
        latest,
    ]


async def test_a_list_cached_on_a_miss_is_written_back_at_the_next_refresh(
    writeback_app, database, events_api
) -> None:
    app = await writeback_app()
    await shop(app, USERS[:1])
    served = await app.client.get(f"/users/{USERS[0]}/recs")
    assert served.status_code == 200
    async with database.write() as session:
        await session.execute(delete(Job))
    assert await app.runtime.recs.refresh(USERS[0]) is False
    await app.run_jobs()

    expected = [item["item_id"] for item in served.json()["items"]]
    assert events_api.profiles[USERS[0]] == {"product_recs": expected}
