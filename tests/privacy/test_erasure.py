"""DELETE /users/{mpid}: nothing of the user is left, nothing of others is lost."""

import pytest
from sqlalchemy import BigInteger, String, Text, func, or_, select

from app.models import Base, Erasure, Interaction, Job
from app.privacy.forgetting import ErasureWatcher
from app.privacy.repository import (
    assign_personalize_deletion,
    erasure_watermark,
    mark_personalize_deleted,
    pending_personalize_deletions,
)
from tests.admin.test_endpoints import ADMIN_AUTH
from tests.batches import inbound_batch, outbound_batch, product_event
from tests.worker.conftest import add_jobs

pytestmark = pytest.mark.anyio

ERASED = 7_346_244_611_012_968_789
KEPT = 4242


async def _rows_mentioning(database, mpid: int) -> dict[str, int]:
    """Rows in any table whose any column holds the MPID, as a number or in text."""
    found = {}
    async with database.read() as session:
        for table in Base.metadata.sorted_tables:
            conditions = []
            for column in table.columns:
                if isinstance(column.type, BigInteger):
                    conditions.append(column == mpid)
                elif isinstance(column.type, String | Text):
                    conditions.append(column.contains(str(mpid)))
            if not conditions:
                continue
            count = await session.scalar(
                select(func.count()).select_from(table).where(or_(*conditions))
            )
            if count:
                found[table.name] = count
    return found


async def _shop(app) -> None:
    impression = {
        "event_type": "commerce_event",
        "data": {
            "message_id": "imp-erased",
            "product_impressions": [{"products": [{"id": "ONLY-A"}]}],
        },
    }
    batches = [
        outbound_batch(
            ERASED, product_event("purchase", "ONLY-A", "SHARED"), impression
        ),
        outbound_batch(KEPT, product_event("view_detail", "SHARED", "B")),
    ]
    await app.client.post("/webhooks/mparticle", json=batches)
    await app.client.post(
        "/v2/events",
        json=inbound_batch(ERASED, product_event("view_detail", "ONLY-A")),
    )
    await app.retrain()
    await app.run_jobs()
    await app.client.get(f"/users/{ERASED}/recs")
    # Leave work pending for the user, as a burst of events would.
    await app.client.post(
        "/v2/events", json=inbound_batch(ERASED, product_event("view_detail", "B"))
    )


async def _erasing_app(start_app, **settings):
    return await start_app(
        admin_key=ADMIN_AUTH[0], admin_secret=ADMIN_AUTH[1], **settings
    )


async def test_erasure_leaves_no_row_of_the_user(start_app, database) -> None:
    app = await _erasing_app(start_app)
    await _shop(app)
    before = await _rows_mentioning(database, ERASED)
    assert {"batches", "interactions", "impressions", "recommendations", "jobs"} <= set(
        before
    )

    response = await app.client.delete(f"/users/{ERASED}", auth=ADMIN_AUTH)

    assert response.status_code == 200
    assert response.json() == {
        "mpid": str(ERASED),
        "interactions": 4,
        "impressions": 1,
        "batches": 3,
        "recommendations": 1,
        "jobs": 1,
    }
    assert await _rows_mentioning(database, ERASED) == {}
    assert (await _rows_mentioning(database, KEPT)).keys() >= {"interactions"}


async def test_the_erased_user_is_served_as_unknown(start_app, database) -> None:
    app = await _erasing_app(start_app)
    await _shop(app)
    await app.client.delete(f"/users/{ERASED}", auth=ADMIN_AUTH)
    await app.run_jobs()

    body = (await app.client.get(f"/users/{ERASED}/recs")).json()
    assert body["source"] == "popular"
    assert await _rows_mentioning(database, ERASED) == {}


async def test_erasing_an_unknown_user_succeeds_with_nothing_removed(
    start_app, database
) -> None:
    app = await _erasing_app(start_app)
    response = await app.client.delete("/users/-3", auth=ADMIN_AUTH)
    assert response.json()["interactions"] == 0
    assert (await app.client.delete("/users/x", auth=ADMIN_AUTH)).status_code == 422


async def test_a_refresh_in_flight_cannot_cache_a_list_for_an_erased_user(
    start_app, database
) -> None:
    app = await _erasing_app(start_app)
    await _shop(app)
    await app.client.delete(f"/users/{ERASED}", auth=ADMIN_AUTH)

    # As if a worker had read the history just before the erasure.
    assert await app.runtime.recs.refresh(ERASED) is False
    assert await _rows_mentioning(database, ERASED) == {}


async def test_the_embedded_model_forgets_an_erased_user(start_app, database):
    app = await _erasing_app(start_app)
    await _shop(app)
    recommender = app.runtime.recommender
    watcher = ErasureWatcher(database, recommender.retrain, 60)
    await watcher.start()
    assert "ONLY-A" in recommender.model.items
    assert await watcher.forget_if_needed() is False

    await app.client.delete(f"/users/{ERASED}", auth=ADMIN_AUTH)

    assert await watcher.forget_if_needed() is True
    assert "ONLY-A" not in recommender.model.items
    async with database.read() as session:
        assert watcher.watermark == await erasure_watermark(session)


async def test_without_personalize_the_erasure_record_is_anonymous(
    start_app, database
) -> None:
    app = await _erasing_app(start_app)
    await app.client.delete(f"/users/{ERASED}", auth=ADMIN_AUTH)
    async with database.read() as session:
        [erasure] = (await session.scalars(select(Erasure))).all()
        assert await pending_personalize_deletions(session) == []
    assert (erasure.mpid, erasure.personalize_pending) == (None, False)


@pytest.mark.parametrize(
    "configured",
    [
        {"personalize_tracking_id": "tracker-1"},
        {
            "personalize_dataset_group_arn": "arn:aws:personalize:us-east-1:"
            "123456789012:dataset-group/recloop"
        },
    ],
)
async def test_with_personalize_the_mpid_is_kept_until_its_deletion_is_done(
    start_app, database, configured
) -> None:
    app = await _erasing_app(start_app, **configured)
    await app.client.delete(f"/users/{ERASED}", auth=ADMIN_AUTH)
    await app.client.delete(f"/users/{KEPT}", auth=ADMIN_AUTH)
    async with database.read() as session:
        assert await pending_personalize_deletions(session) == [ERASED, KEPT]

    async with database.write() as session:
        assert await assign_personalize_deletion(session, "job-1") == 2
        assert await mark_personalize_deleted(session, "job-1") == 2

    assert await _rows_mentioning(database, ERASED) == {}
    async with database.read() as session:
        assert await pending_personalize_deletions(session) == []
        assert await erasure_watermark(session) == 2


async def test_jobs_keyed_by_one_of_the_users_interactions_go_too(
    start_app, database
) -> None:
    app = await _erasing_app(start_app)
    await _shop(app)
    async with database.read() as session:
        theirs = await session.scalar(
            select(Interaction.key).where(Interaction.mpid == ERASED).limit(1)
        )
        others = await session.scalar(
            select(Interaction.key).where(Interaction.mpid == KEPT).limit(1)
        )
    # As a dead-lettered event for a downstream would be keyed.
    await add_jobs(database, "personalize_event", theirs, others, dead=True)

    response = await app.client.delete(f"/users/{ERASED}", auth=ADMIN_AUTH)

    assert response.json()["jobs"] == 2
    async with database.read() as session:
        keys = set((await session.scalars(select(Job.key))).all())
    assert keys == {others}


async def test_erasure_deletes_only_that_users_interactions(start_app, database):
    app = await _erasing_app(start_app)
    await _shop(app)
    await app.client.delete(f"/users/{ERASED}", auth=ADMIN_AUTH)
    async with database.read() as session:
        mpids = set((await session.scalars(select(Interaction.mpid))).all())
    assert mpids == {KEPT}
