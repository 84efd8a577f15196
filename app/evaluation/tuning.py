"""Choosing the embedded model's hyperparameters on validation splits.

A validation split applies the protocol to a split's training data alone,
so the test items never influence the choice. The search is coordinate-wise:
each parameter in turn takes the grid value that scores best with the
others held, for a fixed number of rounds.

With one split the score is its NDCG@10. With several (datasets of
different shapes) it is the worst, over the splits, of NDCG@10 relative to
EASE's on the same split: parameters that hold up everywhere, not ones that
shine on one shape of data.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import structlog

from app.evaluation.protocol import Split, validation_split
from app.evaluation.runner import evaluate
from app.evaluation.scorers import EASE, EmbeddedScorer
from app.recommenders.embedded.model import ModelParams

log = structlog.get_logger(__name__)

GRID: Mapping[str, Sequence[float]] = {
    "factor_weight": (0.0, 0.25, 0.5, 1.0),
    "neighbor_weight": (0.0, 0.25, 0.5),
    "sequence_weight": (0.1, 0.25, 0.4, 0.6),
    "popularity_weight": (0.0, 0.05, 0.1, 0.2),
    "history_half_life": (3.0, 10.0, 30.0),
    "sequence_items": (1, 2, 3, 5),
    "transition_window": (1, 3, 5),
    "shrink": (10.0, 50.0),
}
METRIC = "NDCG@10"


def tune(
    splits: Sequence[Split],
    start: ModelParams | None = None,
    grid: Mapping[str, Sequence[float]] = GRID,
    rounds: int = 1,
    report: Callable[[str, float, float], None] | None = None,
) -> ModelParams:
    """The parameters that score best on the splits' validation splits."""
    validations = [validation_split(split) for split in splits]
    references = _references(validations)
    best = start or ModelParams()
    best_score = _score(validations, references, best)
    for _ in range(rounds):
        for name, values in grid.items():
            for value in values:
                candidate = replace(best, **{name: type(getattr(best, name))(value)})
                if candidate == best:
                    continue
                score = _score(validations, references, candidate)
                if report is not None:
                    report(name, value, score)
                if score > best_score:
                    best, best_score = candidate, score
    log.info("evaluation.tuned", metric=METRIC, score=round(best_score, 4))
    return best


def _references(validations: list[Split]) -> list[float]:
    if len(validations) == 1:
        return [1.0]
    return [evaluate([EASE()], split)[0].values[METRIC] or 1.0 for split in validations]


def _score(
    validations: list[Split], references: list[float], params: ModelParams
) -> float:
    return min(
        evaluate([EmbeddedScorer(params)], split)[0].values[METRIC] / reference
        for split, reference in zip(validations, references, strict=True)
    )
