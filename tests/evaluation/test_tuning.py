import numpy as np

from app.evaluation.dataset import Interactions
from app.evaluation.protocol import leave_last_out, validation_split
from app.evaluation.runner import evaluate
from app.evaluation.scorers import EmbeddedScorer
from app.evaluation.tuning import tune
from app.recommenders.embedded.model import ModelParams
from tests.evaluation.conftest import interactions


def _chains(users: int = 200) -> Interactions:
    # Each user meets 5 of 12 items in ascending order: every item co-occurs
    # with every other, so only the order says what comes next.
    rng = np.random.default_rng(5)
    rows = [
        (u, int(item), 1.0, step)
        for u in range(users)
        for step, item in enumerate(np.sort(rng.choice(12, size=5, replace=False)))
    ]
    return interactions(rows, item_count=12)


def _validation_ndcg(split, params: ModelParams) -> float:
    (result,) = evaluate([EmbeddedScorer(params)], validation_split(split))
    return result.values["NDCG@10"]


def test_tuning_picks_the_grid_value_that_scores_best_on_validation():
    split = leave_last_out(_chains())
    start = ModelParams(sequence_weight=0.0, neighbor_weight=1.0)
    seen: list[tuple[str, float, float]] = []

    best = tune(
        [split],
        start,
        grid={"sequence_weight": (0.0, 1.0)},
        report=lambda *args: seen.append(args),
    )

    assert best.sequence_weight == 1.0
    assert [name for name, _, _ in seen] == ["sequence_weight"]
    assert _validation_ndcg(split, best) > _validation_ndcg(split, start)


def test_with_several_splits_the_worst_one_decides():
    splits = [leave_last_out(_chains()), leave_last_out(_chains(30))]
    best = tune(splits, ModelParams(), grid={"neighbors": (5,)})
    assert best.neighbors in (5, ModelParams().neighbors)
