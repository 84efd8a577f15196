import pytest

from app.recommenders.base import HistoryEvent
from app.recommenders.embedded.engine import EmbeddedRecommender
from tests.batches import outbound_batch, product_event
from tests.recommenders.embedded.conftest import chain_rows, store_interactions

pytestmark = pytest.mark.anyio


@pytest.fixture
async def recommender(database, make_settings) -> EmbeddedRecommender:
    # These tests look at how signals combine, so items the user has seen
    # stay candidates; the default leaves them out (tested below).
    await store_interactions(database, chain_rows(range(20)))
    settings = make_settings(recs_exclude_interacted=False)
    recommender = EmbeddedRecommender(database, settings)
    await recommender.retrain()
    return recommender


async def test_by_default_no_item_the_user_interacted_with_is_recommended(
    database, make_settings
) -> None:
    await store_interactions(database, chain_rows(range(20)))
    recommender = EmbeddedRecommender(database, make_settings())
    await recommender.retrain()
    history = [HistoryEvent("B", "view_detail", 2), HistoryEvent("C", "add_to_cart", 3)]

    listing = await recommender.recommend(1, history, 4)

    assert listing.items
    assert not {"B", "C"} & set(_ids(listing))


def _ids(listing) -> list[str]:
    return [item.item_id for item in listing.items]


async def test_purchased_items_are_never_recommended(recommender):
    history = [
        HistoryEvent("C", "purchase", 3),
        HistoryEvent("B", "view_detail", 2),
    ]
    listing = await recommender.recommend(1, history, 4)
    assert listing.source == "embedded"
    assert "C" not in _ids(listing)
    assert len(listing.items) == 3


async def test_a_removal_from_the_cart_cancels_the_add(recommender):
    history = [
        HistoryEvent("D", "remove_from_cart", 4),
        HistoryEvent("D", "add_to_cart", 3),
        HistoryEvent("B", "view_detail", 2),
    ]
    listing = await recommender.recommend(1, history, 4)
    # D nets to 0 and carries no interest, but it was not rejected outright.
    assert _ids(listing)[0] == "C"
    refunded = [HistoryEvent("D", "refund", 5), HistoryEvent("D", "view_detail", 1)]
    assert "D" not in _ids(await recommender.recommend(1, refunded, 4))


async def test_event_types_without_a_weight_count_for_nothing(recommender):
    history = [HistoryEvent("B", "checkout", 1)]
    listing = await recommender.recommend(1, history, 3)
    assert listing.source == "popular"


async def test_a_user_with_only_unknown_items_gets_popular_ones(recommender):
    listing = await recommender.recommend(1, [HistoryEvent("new", "purchase", 1)], 2)
    assert listing.source == "popular"
    assert len(listing.items) == 2


async def test_a_new_interaction_changes_served_recs_without_a_retrain(
    start_app, database
):
    app = await start_app(recs_count=3)
    await store_interactions(database, chain_rows(range(20)))
    pairs = [
        (300 + u, sku, "view_detail", 9_000 + u * 10 + i)
        for u in range(10)
        for i, sku in enumerate(["X", "Y"])
    ]
    await store_interactions(database, pairs)
    await app.retrain()
    trained = app.runtime.recommender.snapshot

    await app.client.post(
        "/webhooks/mparticle",
        json=[outbound_batch(42, product_event("view_detail", "B", time_ms=10_000))],
    )
    await app.run_jobs()
    first = (await app.client.get("/users/42/recs?n=3")).json()
    await app.client.post(
        "/webhooks/mparticle",
        json=[
            outbound_batch(
                42,
                product_event("view_detail", "X", time_ms=20_000),
                product_event("add_to_cart", "X", time_ms=21_000),
            )
        ],
    )
    await app.run_jobs()
    second = (await app.client.get("/users/42/recs?n=3")).json()

    assert first["items"][0]["item_id"] == "C"
    assert "Y" not in [item["item_id"] for item in first["items"]]
    assert second["items"][0]["item_id"] == "Y"
    assert second["recommendation_id"] != first["recommendation_id"]
    assert app.runtime.recommender.snapshot == trained


async def test_parameter_overrides_from_settings_reach_the_trained_model(
    database, make_settings
):
    await store_interactions(database, chain_rows(range(5)))
    settings = make_settings(embedded_params={"neighbors": 1, "factor_weight": 0})
    recommender = EmbeddedRecommender(database, settings)
    await recommender.retrain()
    assert recommender.model.params.neighbors == 1
    assert recommender.model.factors.shape[1] == 0
    assert recommender.model.neighbors.getnnz(axis=1).max() == 1
