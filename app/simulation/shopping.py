"""Shoppers acting out the latent model: sessions of product views that
drift towards similar products, add-to-carts from the views they like,
purchases at checkout, the odd removal from the cart and refund.

Besides the events, the simulation knows what each shopper would really
want next (their ground truth): the items their next session would most
likely open with, among the items they have not interacted with yet.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from app.simulation.latent import (
    Catalog,
    Shoppers,
    SimulationConfig,
    make_catalog,
    make_shoppers,
    utilities,
)

DAY_MS = 86_400_000
NOVELTY_BONUS = 1.0
NOVELTY_DAYS = 7.0
GROUND_TRUTH_ITEMS = 20


@dataclass(frozen=True, slots=True)
class ShopperEvent:
    mpid: int
    item: int  # row in the catalog
    action: str
    time_ms: int
    session: int


@dataclass
class Simulation:
    config: SimulationConfig
    catalog: Catalog
    shoppers: Shoppers
    start_ms: int
    end_ms: int
    events: list[ShopperEvent] = field(default_factory=list)
    # The items each shopper would most want next, best first (catalog rows).
    ground_truth: dict[int, list[int]] = field(default_factory=dict)
    _novelty: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def novelty_on(self, now_ms: int) -> np.ndarray:
        """Every item's novelty bonus on the day of `now_ms`; -inf before launch.

        Cached per day: shoppers on the same day see the same new items.
        """
        day = (now_ms - self.start_ms) // DAY_MS
        cached = self._novelty.get(day)
        if cached is None:
            at = self.start_ms + day * DAY_MS
            cached = np.zeros(len(self.catalog.item_ids))
            fresh = self.catalog.fresh
            age_days = (at - self.catalog.launch_ms[fresh]) / DAY_MS
            bonus = NOVELTY_BONUS * np.exp(-np.maximum(age_days, 0) / NOVELTY_DAYS)
            # An item launched during a day is on sale from the next day on.
            launched = self.catalog.launch_ms[fresh] <= at
            cached[fresh] = np.where(launched, bonus, -np.inf)
            self._novelty[day] = cached
        return cached

    def item_id(self, event: ShopperEvent) -> str:
        return self.catalog.item_ids[event.item]

    def sessions(self) -> Iterator[list[ShopperEvent]]:
        """The events grouped by session, each session's events in time order."""
        group: list[ShopperEvent] = []
        for event in self.events:
            if group and event.session != group[0].session:
                yield group
                group = []
            group.append(event)
        if group:
            yield group


def simulate(
    config: SimulationConfig, end_ms: int | None = None, ground_truth: bool = True
) -> Simulation:
    """Run every shopper; `ground_truth=False` skips what they want next (faster)."""
    rng = np.random.default_rng(config.seed)
    end_ms = end_ms or int(time.time() * 1000)
    start_ms = end_ms - int(config.days * DAY_MS)
    simulation = Simulation(
        config=config,
        catalog=make_catalog(config, rng, start_ms, end_ms),
        shoppers=make_shoppers(config, rng),
        start_ms=start_ms,
        end_ms=end_ms,
    )
    session_counter = iter(range(1, 2**62))
    for user in range(config.users):
        _ShopperRun(simulation, user, rng, session_counter).run(ground_truth)
    return simulation


class _ShopperRun:
    """One shopper's whole history, session after session."""

    def __init__(
        self,
        simulation: Simulation,
        user: int,
        rng: np.random.Generator,
        sessions: Iterator[int],
    ) -> None:
        self.sim = simulation
        self.config = simulation.config
        self.catalog = simulation.catalog
        self.user = user
        self.mpid = int(simulation.shoppers.mpids[user])
        self.rng = rng
        self.session_ids = sessions
        self.preferences = simulation.shoppers.preferences[user]
        self.utility = utilities(
            self.config, self.catalog, simulation.shoppers.taste[user]
        )
        self.mean_utility = float(self.utility.mean())
        self.category_cdf = np.cumsum(self.preferences)
        self.category_cdf[-1] = 1.0
        self.touched: set[int] = set()
        self.last_category: int | None = None

    def run(self, ground_truth: bool) -> None:
        count = int(self.sim.shoppers.sessions[self.user])
        starts = np.sort(self.rng.uniform(self.sim.start_ms, self.sim.end_ms, count))
        for start in starts:
            self._session(int(start))
        if ground_truth:
            self.sim.ground_truth[self.mpid] = self._wanted_next()

    def _session(self, start_ms: int) -> None:
        session = next(self.session_ids)
        category = self._session_category()
        views = int(self.rng.geometric(1.0 / self.config.views_per_session))
        # Minutes pass within a session; item novelty is taken at its start.
        liking = self._utility_at(start_ms)
        now, current, cart = start_ms, None, []
        for _ in range(views):
            if current is not None and self.rng.random() > self.config.stay_in_category:
                category = self._preferred_category()
            item = self._next_view(liking, category, current)
            if item is None:
                break
            self._emit(item, "view_detail", now, session)
            if self.rng.random() < self._cart_probability(item):
                now += int(self.rng.exponential(20_000)) + 1
                self._emit(item, "add_to_cart", now, session)
                cart.append(item)
            now += int(self.rng.exponential(60_000)) + 1
            current = item
            liking[item] = -np.inf
        self._checkout(cart, now, session)
        self.last_category = category

    def _session_category(self) -> int:
        sticky = self.rng.random() < self.config.category_stickiness
        if self.last_category is not None and sticky:
            return self.last_category
        return self._preferred_category()

    def _preferred_category(self) -> int:
        return int(np.searchsorted(self.category_cdf, self.rng.random(), side="right"))

    def _utility_at(self, now_ms: int) -> np.ndarray:
        """Each item's utility for this shopper now; -inf until it launches."""
        return self.utility + self.sim.novelty_on(now_ms)

    def _next_view(
        self, liking: np.ndarray, category: int, current: int | None
    ) -> int | None:
        pool = self.catalog.by_category[category]
        logits = liking[pool]
        if current is not None:
            closeness = self.catalog.taste[pool] @ self.catalog.taste[current]
            logits += self.config.browse_similarity * closeness
        # Gumbel-max: the argmax of logits plus Gumbel noise is a softmax draw.
        pick = int(np.argmax(logits + self.rng.gumbel(size=len(pool))))
        return None if logits[pick] == -np.inf else int(pool[pick])

    def _cart_probability(self, item: int) -> float:
        liking = min(self.utility[item] - self.mean_utility, 3.0)
        return min(0.9, self.config.cart_rate * float(np.exp(0.5 * liking)))

    def _checkout(self, cart: list[int], now_ms: int, session: int) -> None:
        bought = [
            item for item in cart if self.rng.random() < self.config.purchase_rate
        ]
        for item in cart:
            if item not in bought and self.rng.random() < self.config.remove_rate:
                now_ms += int(self.rng.exponential(30_000)) + 1
                self._emit(item, "remove_from_cart", now_ms, session)
        now_ms += int(self.rng.exponential(90_000)) + 1
        for item in bought:
            self._emit(item, "purchase", now_ms, session)
        for item in bought:
            if self.rng.random() < self.config.refund_rate:
                later = now_ms + int(self.rng.uniform(1, 10) * DAY_MS)
                if later < self.sim.end_ms:
                    self._emit(item, "refund", later, next(self.session_ids))

    def _emit(self, item: int, action: str, time_ms: int, session: int) -> None:
        self.sim.events.append(ShopperEvent(self.mpid, item, action, time_ms, session))
        self.touched.add(item)

    def _wanted_next(self) -> list[int]:
        """The items the shopper's next session most likely opens with."""
        liking = self._utility_at(self.sim.end_ms)
        liking[list(self.touched)] = -np.inf
        category_chance = (1 - self.config.category_stickiness) * self.preferences
        if self.last_category is not None:
            category_chance[self.last_category] += self.config.category_stickiness
        available = np.isfinite(liking)
        if not available.any():
            return []
        weights = np.exp(liking - liking[available].max())
        per_category = np.bincount(
            self.catalog.categories, weights=weights, minlength=len(category_chance)
        )
        shares = np.divide(
            category_chance,
            per_category,
            out=np.zeros_like(category_chance),
            where=per_category > 0,
        )
        chance = weights * shares[self.catalog.categories]
        count = min(GROUND_TRUTH_ITEMS, len(chance))
        best = np.argpartition(-chance, count - 1)[:count]
        best = best[np.argsort(-chance[best], kind="stable")]
        return [int(item) for item in best if chance[item] > 0]
