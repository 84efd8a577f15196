"""Choosing the embedded model's hyperparameters on a validation split.

The validation split applies the protocol to the training data alone, so
the test items never influence the choice. The search is coordinate-wise:
each parameter in turn takes the grid value that scores best with the
others held, for a fixed number of rounds.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import structlog

from app.evaluation.protocol import Split, validation_split
from app.evaluation.runner import evaluate
from app.evaluation.scorers import EmbeddedScorer
from app.recommenders.embedded.model import ModelParams

log = structlog.get_logger(__name__)

GRID: Mapping[str, Sequence[float]] = {
    "sequence_weight": (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9),
    "history_half_life": (1.0, 3.0, 10.0, 30.0, 100.0),
    "sequence_items": (1, 2, 3, 5),
    "sequence_decay": (0.3, 0.5, 0.7),
    "transition_window": (1, 2, 3, 5),
    "transition_beta": (0.0, 0.25, 0.5),
    "shrink": (0.0, 10.0, 50.0),
    "neighbors": (50, 100, 200),
}
METRIC = "NDCG@10"


def tune(
    split: Split,
    start: ModelParams | None = None,
    grid: Mapping[str, Sequence[float]] = GRID,
    rounds: int = 2,
    report: Callable[[str, float, float], None] | None = None,
) -> ModelParams:
    """The parameters that score best on `split`'s validation split."""
    validation = validation_split(split)
    best = start or ModelParams()
    best_score = _score(validation, best)
    for _ in range(rounds):
        for name, values in grid.items():
            for value in values:
                candidate = replace(best, **{name: type(getattr(best, name))(value)})
                if candidate == best:
                    continue
                score = _score(validation, candidate)
                if report is not None:
                    report(name, value, score)
                if score > best_score:
                    best, best_score = candidate, score
    log.info("evaluation.tuned", metric=METRIC, score=round(best_score, 4))
    return best


def _score(validation: Split, params: ModelParams) -> float:
    (result,) = evaluate([EmbeddedScorer(params)], validation)
    return result.values[METRIC]
