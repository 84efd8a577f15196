"""How the embedded model's shipped parameters were chosen.

    .venv/bin/python bench/defaults.py

Three simulated datasets of different shapes (see bench/quality.py), with a
seed the quality table does not use, are each split by the protocol; the
search runs on their validation splits only and keeps the parameters whose
worst NDCG@10 relative to EASE is best. A second, narrower pass refines the
first. It prints every candidate and the result: what `ModelParams` ships
with (printed as its difference from the current defaults, so an empty
result means the defaults are what this search chooses).
"""

from dataclasses import replace

from quality import END_MS, from_simulation

from app.evaluation.protocol import leave_last_out
from app.evaluation.tuning import tune
from app.recommenders.embedded.model import ModelParams, overrides_of
from app.simulation.latent import SimulationConfig
from app.simulation.shopping import simulate

SEED = 1
# Where the search started from (the shipped values are its result).
START = ModelParams(
    transition_window=3,
    history_half_life=10.0,
    sequence_items=3,
    factor_regularization=0.1,
    factor_weight=0.5,
    neighbor_weight=0.25,
    sequence_weight=0.25,
    popularity_weight=0.0,
)
# A second, narrower pass around the first one's result.
REFINE = {
    "popularity_weight": (0.3, 0.5),
    "history_half_life": (100.0,),
    "sequence_weight": (0.05, 0.15),
    "factors": (64,),
    "factor_regularization": (0.01, 1.0),
    "factor_alpha": (3.0, 30.0),
}


def main() -> None:
    base = SimulationConfig(users=10_000, items=3_000, categories=30, seed=SEED)
    shop = simulate(base, END_MS)
    order_free = simulate(
        replace(
            base, browse_similarity=0.0, category_stickiness=0.0, stay_in_category=0.0
        ),
        END_MS,
    )
    datasets = [
        from_simulation(shop)[0],
        from_simulation(order_free)[0],
        from_simulation(shop, {"purchase"})[0],
    ]
    splits = [leave_last_out(data) for data in datasets]
    first = tune(splits, START, report=_print)
    print("first pass:", overrides_of(first))
    best = tune(splits, first, REFINE, report=_print)
    print("shipped:", overrides_of(best))


def _print(name: str, value: float, score: float) -> None:
    print(f"{name}={value}: {score:.3f}", flush=True)


if __name__ == "__main__":
    main()
