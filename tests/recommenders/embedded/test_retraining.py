import asyncio

import pytest
from sqlalchemy import func, select

from app.models import ModelSnapshot
from app.recommenders.base import HistoryEvent
from app.recommenders.embedded import lease
from app.recommenders.embedded.engine import EmbeddedRecommender
from app.recommenders.embedded.retraining import LEASE_NAME, Retrainer
from tests.recommenders.embedded.conftest import chain_rows, store_interactions

pytestmark = pytest.mark.anyio


async def _snapshot_count(database) -> int:
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(ModelSnapshot))


def _process(database, settings) -> tuple[EmbeddedRecommender, Retrainer]:
    """What one worker process holds: its recommender and its retrainer."""
    recommender = EmbeddedRecommender(database, settings)
    return recommender, Retrainer(recommender, database, settings, train=True)


async def test_a_restart_loads_the_saved_model_instead_of_training(
    database, make_settings
):
    settings = make_settings()
    await store_interactions(database, chain_rows(range(10)))
    first, first_retrainer = _process(database, settings)
    await first_retrainer.start()
    assert await _snapshot_count(database) == 1

    restarted, retrainer = _process(database, settings)
    await retrainer.start()

    assert await _snapshot_count(database) == 1
    assert restarted.snapshot == first.snapshot
    assert restarted.model.items == first.model.items
    assert await restarted.similar_items("B", 3) == await first.similar_items("B", 3)


async def test_of_two_workers_only_one_trains_and_the_other_loads_its_model(
    database, make_settings
):
    settings = make_settings()
    await store_interactions(database, chain_rows(range(10)))
    (one, one_retrainer), (two, two_retrainer) = (
        _process(database, settings),
        _process(database, settings),
    )

    trained = await asyncio.gather(
        one_retrainer.retrain_if_needed(), two_retrainer.retrain_if_needed()
    )

    assert sorted(trained) == [False, True]
    assert await _snapshot_count(database) == 1
    await one_retrainer.tick()
    await two_retrainer.tick()
    assert one.snapshot == two.snapshot
    assert one.snapshot is not None


async def test_a_live_lease_blocks_training_until_it_expires(database, make_settings):
    settings = make_settings()
    await store_interactions(database, chain_rows(range(10)))
    _, retrainer = _process(database, settings)
    assert await lease.acquire(database, LEASE_NAME, "crashed-worker", 60)

    assert not await retrainer.retrain_if_needed()

    # The holder stops renewing; its lease runs out.
    assert await lease.acquire(database, LEASE_NAME, "crashed-worker", -1)
    assert await retrainer.retrain_if_needed()
    # Released once trained: the next trainer need not wait for it to expire.
    assert await lease.acquire(database, LEASE_NAME, "next-worker", 60)


async def test_retrains_only_once_enough_new_interactions_arrived(
    database, make_settings
):
    settings = make_settings(retrain_min_new_interactions=8, retrain_min_new_fraction=0)
    await store_interactions(database, chain_rows(range(10)))
    recommender, retrainer = _process(database, settings)
    assert await retrainer.retrain_if_needed()

    await store_interactions(database, chain_rows(range(10, 11)))
    assert not await retrainer.retrain_if_needed()
    await store_interactions(database, chain_rows(range(11, 12)))
    assert await retrainer.retrain_if_needed()
    assert recommender.model.interaction_count == 48


async def test_requests_during_a_retrain_see_the_old_model_or_the_new_one(
    database, make_settings
):
    settings = make_settings()
    await store_interactions(database, chain_rows(range(10)))
    recommender = EmbeddedRecommender(database, settings)
    await recommender.retrain()
    history = [HistoryEvent("B", "view_detail", 1)]
    old = await recommender.recommend(1, history, 3)
    # Shoppers now go B -> X: the new model answers differently.
    await store_interactions(
        database,
        [
            (mpid, item, "view_detail", 5_000_000 + mpid * 10 + step)
            for mpid in range(100, 160)
            for step, item in enumerate(["B", "X"])
        ],
    )

    answers = await asyncio.gather(
        recommender.retrain(),
        *(recommender.recommend(1, history, 3) for _ in range(20)),
    )
    new = await recommender.recommend(1, history, 3)

    assert old.items != new.items
    assert all(answer in (old, new) for answer in answers[1:])


async def test_only_the_newest_snapshots_are_kept(database, make_settings):
    settings = make_settings()
    await store_interactions(database, chain_rows(range(5)))
    recommender = EmbeddedRecommender(database, settings)
    for _ in range(4):
        await recommender.retrain()
    assert await _snapshot_count(database) == 2


async def test_an_api_replica_never_trains_but_loads_each_new_model(
    database, make_settings
):
    settings = make_settings(retrain_min_new_interactions=1, retrain_min_new_fraction=0)
    await store_interactions(database, chain_rows(range(10)))
    replica = EmbeddedRecommender(database, settings)
    replica_retrainer = Retrainer(replica, database, settings, train=False)
    await replica_retrainer.start()
    assert not await replica_retrainer.tick()
    assert replica.snapshot is None
    assert await _snapshot_count(database) == 0

    worker, worker_retrainer = _process(database, settings)
    await worker_retrainer.start()
    await replica_retrainer.tick()
    assert replica.snapshot == worker.snapshot

    await store_interactions(database, chain_rows(range(10, 12)))
    assert await worker_retrainer.retrain_if_needed()
    await replica_retrainer.tick()
    assert replica.snapshot == worker.snapshot
    assert replica.model.interaction_count == 48
