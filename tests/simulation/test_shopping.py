from collections import Counter, defaultdict
from itertools import pairwise

import numpy as np
import pytest

from app.simulation.latent import SimulationConfig
from app.simulation.shopping import Simulation, simulate
from tests.simulation.conftest import END_MS


def test_the_same_seed_gives_the_same_shoppers():
    config = SimulationConfig(users=30, items=50, categories=5)
    assert simulate(config, END_MS).events == simulate(config, END_MS).events
    other = SimulationConfig(users=30, items=50, categories=5, seed=8)
    assert simulate(other, END_MS).events != simulate(config, END_MS).events


def test_every_cart_follows_a_view_and_every_purchase_a_cart(simulation: Simulation):
    for session in simulation.sessions():
        viewed, carted, bought = set(), set(), set()
        for event in session:
            if event.action == "view_detail":
                viewed.add(event.item)
            elif event.action == "add_to_cart":
                assert event.item in viewed
                carted.add(event.item)
            elif event.action == "purchase":
                assert event.item in carted
                bought.add(event.item)
            elif event.action == "remove_from_cart":
                assert event.item in carted
        times = [event.time_ms for event in session]
        assert times == sorted(times)


def test_refunds_are_of_items_the_shopper_bought_earlier(simulation):
    bought = defaultdict(dict)
    for event in simulation.events:
        if event.action == "purchase":
            bought[event.mpid].setdefault(event.item, event.time_ms)
    refunds = [e for e in simulation.events if e.action == "refund"]
    assert refunds
    for refund in refunds:
        assert bought[refund.mpid][refund.item] < refund.time_ms


def test_events_happen_in_the_period_and_never_before_an_item_launches(simulation):
    launch = simulation.catalog.launch_ms
    for event in simulation.events:
        assert simulation.start_ms <= event.time_ms <= END_MS + 10 * 86_400_000
        assert event.time_ms >= launch[event.item]
    assert (launch > simulation.start_ms).any()


def test_a_few_items_get_most_of_the_views(simulation):
    views = Counter(e.item for e in simulation.events if e.action == "view_detail")
    counts = sorted(views.values(), reverse=True)
    top_tenth = sum(counts[: len(simulation.catalog.item_ids) // 10])
    assert top_tenth / sum(counts) > 0.3


def test_shoppers_keep_to_a_few_categories(simulation):
    categories = simulation.catalog.categories
    by_user = defaultdict(Counter)
    for event in simulation.events:
        by_user[event.mpid][categories[event.item]] += 1
    top_share = [max(c.values()) / sum(c.values()) for c in by_user.values()]
    # Ten categories: a shopper without preferences would average about 0.2.
    assert np.mean(top_share) > 0.45


def test_the_next_view_resembles_the_last(simulation):
    taste = simulation.catalog.taste
    steps = []
    for session in simulation.sessions():
        views = [e.item for e in session if e.action == "view_detail"]
        steps += [float(taste[a] @ taste[b]) for a, b in pairwise(views)]
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, len(taste), size=(2000, 2))
    random_pairs = [float(taste[a] @ taste[b]) for a, b in pairs]
    assert np.mean(steps) > np.mean(random_pairs) + 0.2


def test_ground_truth_is_new_to_the_shopper_and_already_launched(simulation):
    touched = defaultdict(set)
    for event in simulation.events:
        touched[event.mpid].add(event.item)
    assert set(simulation.ground_truth) == set(touched)
    for mpid, wanted in simulation.ground_truth.items():
        assert 0 < len(wanted) <= 20
        assert not touched[mpid] & set(wanted)
        assert (simulation.catalog.launch_ms[wanted] <= END_MS).all()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("users", 0, "users must be at least 1"),
        ("categories", 5000, "categories"),
        ("days", 0, "days must be positive"),
    ],
)
def test_impossible_configurations_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        SimulationConfig(**{field: value})
