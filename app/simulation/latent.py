"""The latent model behind simulated shoppers.

Items belong to categories, have an appeal (log-normal, so a few items are
far more popular than most), a position in a small taste space near their
category's centre, a price, and a launch time (some appear mid-simulation).
Shoppers have category preferences (a sparse Dirichlet draw: most people
care about a few categories), a taste vector, and an activity level.
"""

from dataclasses import dataclass

import numpy as np

TASTE_DIMENSIONS = 8


@dataclass(frozen=True)
class SimulationConfig:
    users: int = 2_000
    items: int = 1_000
    categories: int = 20
    days: float = 30.0
    sessions_per_user: float = 4.0
    views_per_session: float = 4.0
    new_item_share: float = 0.2
    popularity_skew: float = 1.0
    taste_weight: float = 2.0
    browse_similarity: float = 3.0
    # Chance that a session stays in the previous session's category.
    category_stickiness: float = 0.3
    # Chance that the next product page is in the same category.
    stay_in_category: float = 0.8
    cart_rate: float = 0.08
    purchase_rate: float = 0.5
    remove_rate: float = 0.15
    refund_rate: float = 0.03
    seed: int = 7

    def __post_init__(self) -> None:
        for name in ("users", "items", "categories"):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"{name} must be at least 1, not {getattr(self, name)}"
                )
        if self.categories > self.items:
            raise ValueError(
                f"categories ({self.categories}) cannot exceed items ({self.items})"
            )
        if self.days <= 0:
            raise ValueError(f"days must be positive, not {self.days}")


@dataclass(frozen=True)
class Catalog:
    item_ids: list[str]
    categories: np.ndarray  # int, per item
    appeal: np.ndarray  # float, log-scale popularity
    taste: np.ndarray  # items x TASTE_DIMENSIONS, unit rows
    prices: np.ndarray
    launch_ms: np.ndarray  # int64
    fresh: np.ndarray  # rows of the items launched during the simulation
    by_category: list[np.ndarray]


@dataclass(frozen=True)
class Shoppers:
    mpids: np.ndarray  # int64, signed like real MPIDs
    preferences: np.ndarray  # users x categories, rows sum to 1
    taste: np.ndarray  # users x TASTE_DIMENSIONS
    sessions: np.ndarray  # int, sessions per user


def make_catalog(
    config: SimulationConfig, rng: np.random.Generator, start_ms: int, end_ms: int
) -> Catalog:
    sizes = rng.dirichlet(np.full(config.categories, 2.0))
    categories = np.sort(rng.choice(config.categories, size=config.items, p=sizes))
    categories[: config.categories] = np.arange(config.categories)
    centres = _unit(rng.normal(size=(config.categories, TASTE_DIMENSIONS)))
    taste = _unit(
        centres[categories] + 0.6 * rng.normal(size=(config.items, TASTE_DIMENSIONS))
    )
    launch = np.full(config.items, start_ms, dtype=np.int64)
    new = rng.random(config.items) < config.new_item_share
    launch[new] = rng.integers(start_ms, end_ms, size=int(new.sum()))
    width = len(str(config.items))
    return Catalog(
        item_ids=[f"SKU-{n:0{width}d}" for n in range(config.items)],
        categories=categories,
        appeal=rng.normal(scale=config.popularity_skew, size=config.items),
        taste=taste,
        prices=np.round(np.exp(rng.normal(3.2, 0.8, size=config.items)), 2),
        launch_ms=launch,
        fresh=np.flatnonzero(new),
        by_category=[np.flatnonzero(categories == c) for c in range(config.categories)],
    )


def make_shoppers(config: SimulationConfig, rng: np.random.Generator) -> Shoppers:
    category_share = np.asarray([1.0 / (rank + 1) for rank in range(config.categories)])
    preferences = rng.dirichlet(np.full(config.categories, 0.3), size=config.users)
    preferences = 0.85 * preferences + 0.15 * category_share / category_share.sum()
    activity = rng.lognormal(mean=0.0, sigma=0.7, size=config.users)
    activity *= config.sessions_per_user / activity.mean()
    mpids = rng.choice(2**62, size=config.users, replace=False).astype(np.int64)
    signs = np.where(rng.random(config.users) < 0.5, -1, 1)
    return Shoppers(
        mpids=mpids * signs,
        preferences=preferences,
        taste=rng.normal(size=(config.users, TASTE_DIMENSIONS)),
        sessions=1 + rng.poisson(np.maximum(activity - 1.0, 0.0)),
    )


def utilities(
    config: SimulationConfig, catalog: Catalog, taste: np.ndarray
) -> np.ndarray:
    """How much a shopper with this taste likes each item, on a log scale."""
    return catalog.appeal + config.taste_weight * (catalog.taste @ _unit(taste))


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
