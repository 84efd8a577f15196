"""Scale of the embedded recommender: load, train, snapshot and top-10 latency.

    .venv/bin/python bench/scale.py [--users 100000 --items 20000]
        [--database-url sqlite:////tmp/recloop-scale.db]

Simulated shoppers (about 1M interactions at the defaults) are stored in a
database of their own, then a fresh process loads them, trains, saves the
snapshot and answers top-10 requests, reporting its own peak memory. Each
figure is printed with its ratio to a baseline measured in the same run:
training against the plain item-kNN recloop shipped before, peak memory
against the process before loading, latency against serving popular items.
"""

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sqlalchemy import func, insert, select

from app.config import Settings
from app.db import Database
from app.migrations import upgrade_to_head
from app.models import Interaction
from app.models.base import utcnow
from app.recommenders.base import HistoryEvent
from app.recommenders.embedded import training
from app.recommenders.embedded.engine import EmbeddedRecommender
from app.recommenders.embedded.loading import load_training_data
from app.simulation.latent import SimulationConfig
from app.simulation.shopping import simulate

INSERT_ROWS = 5_000
LATENCY_USERS = 2_000
HISTORY_LIMIT = 200


async def store(url: str, users: int, items: int) -> int:
    database = Database.from_url(url)
    async with database.read() as session:
        stored = await session.scalar(select(func.count()).select_from(Interaction))
    if stored:
        await database.dispose()
        return int(stored)
    started = time.perf_counter()
    config = SimulationConfig(
        users=users, items=items, categories=max(items // 200, 1), sessions_per_user=2.5
    )
    simulation = simulate(config, ground_truth=False)
    seconds = time.perf_counter() - started
    print(f"simulated {len(simulation.events)} events in {seconds:.0f} s")
    now = utcnow()
    rows = [
        {
            "key": f"{n}",
            "event_key": f"{n}",
            "mpid": e.mpid,
            "item_id": simulation.catalog.item_ids[e.item],
            "event_type": e.action,
            "occurred_at_ms": e.time_ms,
            "received_at": now,
        }
        for n, e in enumerate(simulation.events)
    ]
    for start in range(0, len(rows), INSERT_ROWS):
        async with database.write() as session:
            await session.execute(
                insert(Interaction), rows[start : start + INSERT_ROWS]
            )
    await database.dispose()
    return len(rows)


async def measure(url: str) -> dict[str, float]:
    """Runs in a fresh process so its peak memory is the recommender's own."""
    baseline_rss = _peak_rss_mb()
    settings = Settings(_env_file=None, database_url=url)
    database = Database.from_url(url)
    recommender = EmbeddedRecommender(database, settings)
    await recommender.start()
    started = time.perf_counter()
    data, _ = await load_training_data(database, settings.event_weights)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    await recommender.retrain()
    retrain_s = time.perf_counter() - started
    peak_rss = _peak_rss_mb()
    knn_s = _plain_knn_seconds(data)
    started = time.perf_counter()
    fresh = EmbeddedRecommender(database, settings)
    await fresh.load_newest()
    snapshot_load_s = time.perf_counter() - started
    latencies = await _latencies(recommender, data)
    await database.dispose()
    return {
        "interactions": len(data),
        "users": len(np.unique(data.users)),
        "items": len(data.item_ids),
        "load_s": load_s,
        "retrain_s": retrain_s,
        "plain_knn_train_s": knn_s,
        "snapshot_load_s": snapshot_load_s,
        "baseline_rss_mb": baseline_rss,
        "peak_rss_mb": peak_rss,
        **latencies,
    }


def _plain_knn_seconds(data: training.TrainingData) -> float:
    """The baseline: cosine item-kNN alone, what recloop shipped before."""
    pairs = training.positive_pairs(data.users, data.items, data.weights, data.times_ms)
    started = time.perf_counter()
    _, rows = np.unique(pairs.users, return_inverse=True)
    matrix = sp.csr_matrix(
        (np.log1p(pairs.weights), (rows, pairs.items)),
        shape=(int(rows.max()) + 1, len(data.item_ids)),
    )
    training.item_similarity(matrix, 100, 10.0)
    return time.perf_counter() - started


async def _latencies(
    recommender: EmbeddedRecommender, data: training.TrainingData
) -> dict[str, float]:
    order = np.lexsort((-data.times_ms, data.users))
    users = data.users[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    rng = np.random.default_rng(0)
    picked = rng.choice(
        len(starts), size=min(LATENCY_USERS, len(starts)), replace=False
    )
    recommend_ms, popular_ms = [], []
    types = {w: t for t, w in Settings(_env_file=None).event_weights.items()}
    for user in picked:
        span = order[starts[user] : min(ends[user], starts[user] + HISTORY_LIMIT)]
        history = [
            HistoryEvent(
                data.item_ids[data.items[i]],
                types.get(float(data.weights[i]), "view_detail"),
                int(data.times_ms[i]),
            )
            for i in span
        ]
        started = time.perf_counter()
        await recommender.recommend(int(users[starts[user]]), history, 10)
        recommend_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await recommender.popular(10)
        popular_ms.append((time.perf_counter() - started) * 1000)
    return {
        "top10_p50_ms": float(np.percentile(recommend_ms, 50)),
        "top10_p99_ms": float(np.percentile(recommend_ms, 99)),
        "popular_p99_ms": float(np.percentile(popular_ms, 99)),
    }


def _peak_rss_mb() -> float:
    """The process's peak resident memory (VmHWM).

    Not getrusage's ru_maxrss: Linux carries that across exec, so a child
    would report its parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status; this bench needs Linux")


def report(f: dict[str, float]) -> str:
    rows = [
        ("load from the database (s)", f["load_s"], None, ""),
        (
            "load + train + save snapshot (s)",
            f["retrain_s"],
            f["plain_knn_train_s"],
            "<= 60 s; baseline: plain item-kNN training",
        ),
        (
            "peak memory (MB)",
            f["peak_rss_mb"],
            f["baseline_rss_mb"],
            "<= 1536 MB; baseline: the process before loading",
        ),
        (
            "snapshot load on restart (s)",
            f["snapshot_load_s"],
            f["retrain_s"],
            "baseline: retraining instead",
        ),
        ("top-10 p50 (ms)", f["top10_p50_ms"], None, ""),
        (
            "top-10 p99 (ms)",
            f["top10_p99_ms"],
            f["popular_p99_ms"],
            "<= 5 ms; baseline: popular items, no fold-in",
        ),
    ]
    lines = [
        f"{f['interactions']:.0f} interactions, {f['users']:.0f} users, "
        f"{f['items']:.0f} items",
        f"{'figure':<34}{'value':>10}{'baseline':>10}{'ratio':>9}  target",
    ]
    for label, value, baseline, target in rows:
        base = f"{baseline:>10.2f}{value / baseline:>8.2f}x" if baseline else " " * 19
        lines.append(f"{label:<34}{value:>10.2f}{base}  {target}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--database-url", default="sqlite:////tmp/recloop-scale.db")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.database_url))))
        return
    upgrade_to_head(args.database_url)
    count = asyncio.run(store(args.database_url, args.users, args.items))
    print(f"{count} interactions stored in {args.database_url}")
    child = subprocess.run(  # noqa: S603 - this script, with its own arguments
        [
            sys.executable,
            str(Path(__file__)),
            "--measure",
            "--database-url",
            args.database_url,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    print(report(json.loads(child.stdout.strip().splitlines()[-1])))


if __name__ == "__main__":
    main()
