"""The README's quality table: the evaluation protocol on simulated shoppers.

    .venv/bin/python bench/quality.py [--users 20000 --items 5000] [--tune]
        [--csv ratings.csv]

Three simulated datasets, each split per user chronologically (last item
held out, users with fewer than 3 items skipped, every unseen item ranked):

- shop: sessions of views drifting to similar products, carts, purchases,
  removals and refunds, new items over time;
- shop, order-free: the same shoppers with browsing that ignores the last
  product seen, so the order of a history carries no signal of its own;
- shop, purchases only: what remains of `shop` when only purchases are kept,
  the shape of a ratings dataset where every rating is a purchase.

`--csv` adds a Personalize CSV of your own (MovieLens, say: it may not be
redistributed, so recloop does not ship it). The embedded model runs with
its shipped parameters, chosen on a validation split of a simulation with
another seed; `--tune` also shows it tuned on each dataset's own validation
split. Every row prints its NDCG@10 as a ratio to popularity and to EASE,
measured in the same run.
"""

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from app.config import Settings
from app.evaluation.cli import format_table
from app.evaluation.dataset import Interactions, read_personalize_csv
from app.evaluation.protocol import leave_last_out
from app.evaluation.runner import evaluate
from app.evaluation.scorers import EASE, EmbeddedScorer, ItemKNN, Popularity
from app.evaluation.tuning import tune
from app.recommenders.embedded.model import overrides_of
from app.simulation.latent import SimulationConfig
from app.simulation.shopping import Simulation, simulate

END_MS = 1_764_700_000_000


def from_simulation(simulation: Simulation, actions: set[str] | None = None):
    weight_of = Settings(_env_file=None).weight_of
    events = [e for e in simulation.events if actions is None or e.action in actions]
    users: dict[int, int] = {}
    rows = np.array([users.setdefault(e.mpid, len(users)) for e in events])
    data = Interactions(
        users=rows.astype(np.int32),
        items=np.array([e.item for e in events], dtype=np.int32),
        weights=np.array([weight_of(e.action) for e in events], dtype=np.float32),
        times_ms=np.array([e.time_ms for e in events], dtype=np.int64),
        user_ids=[str(mpid) for mpid in users],
        item_ids=simulation.catalog.item_ids,
    )
    truth = {
        row: set(simulation.ground_truth.get(mpid, [])) for mpid, row in users.items()
    }
    return data, truth


def run(name: str, data: Interactions, truth, tune_too: bool) -> None:
    split = leave_last_out(data)
    print(
        f"\n== {name}: {len(data)} interactions, {data.user_count} users, "
        f"{data.item_count} items, {len(split.test_users)} users tested"
    )
    scorers = [EmbeddedScorer(), EASE(), ItemKNN(), Popularity()]
    if tune_too:
        tuned = EmbeddedScorer(tune([split]))
        tuned.name = "recloop-tuned"
        scorers.insert(1, tuned)
        changed = overrides_of(tuned.params)
        print(f"tuned on the validation split: {changed or 'the shipped defaults'}")
    users = split.test_users
    ground_truth = [truth[int(u)] for u in users] if truth is not None else None
    results = evaluate(scorers, split, ground_truth=ground_truth)
    print(format_table(results, with_ground_truth=ground_truth is not None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tune", action="store_true")
    parser.add_argument("--csv", type=Path, help="A Personalize CSV to add.")
    args = parser.parse_args()
    base = SimulationConfig(
        users=args.users,
        items=args.items,
        categories=max(args.items // 100, 1),
        seed=args.seed,
    )
    shop = simulate(base, END_MS)
    run("shop", *from_simulation(shop), args.tune)
    order_free = replace(
        base, browse_similarity=0.0, category_stickiness=0.0, stay_in_category=0.0
    )
    run("shop, order-free", *from_simulation(simulate(order_free, END_MS)), args.tune)
    run("shop, purchases only", *from_simulation(shop, {"purchase"}), args.tune)
    if args.csv:
        data = read_personalize_csv(args.csv, Settings(_env_file=None).weight_of)
        run(str(args.csv), data, None, args.tune)


if __name__ == "__main__":
    main()
