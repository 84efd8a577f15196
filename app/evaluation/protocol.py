"""The evaluation protocol: per user, chronological leave-last-out.

Each user's events are summed per item (an item met three times is one
interaction, dated when the user first met it; items the user netted
negative on are dropped). Users with at least `min_interactions` items have
their last item held out; everything else trains. Models then rank every
item the user has not interacted with in training.
"""

from dataclasses import dataclass

import numpy as np

from app.evaluation.dataset import Interactions
from app.recommenders.embedded.training import positive_pairs

MIN_INTERACTIONS = 3


@dataclass(frozen=True)
class Split:
    train: Interactions
    test_users: np.ndarray  # int32 rows of train.user_ids, one per tested user
    test_items: np.ndarray  # int32, the held-out item of each tested user


def as_pairs(data: Interactions) -> Interactions:
    """One interaction per net-positive (user, item), ordered by user then time."""
    pairs = positive_pairs(data.users, data.items, data.weights, data.times_ms)
    return Interactions(
        users=pairs.users.astype(np.int32),
        items=pairs.items,
        weights=pairs.weights,
        times_ms=pairs.first_ms,
        user_ids=data.user_ids,
        item_ids=data.item_ids,
    )


def leave_last_out(
    data: Interactions, min_interactions: int = MIN_INTERACTIONS
) -> Split:
    """Hold out each eligible user's chronologically last item."""
    pairs = as_pairs(data)
    counts = np.bincount(pairs.users, minlength=data.user_count)
    # Pairs are grouped by user in time order: a user's last row is held out.
    is_last = np.r_[pairs.users[1:] != pairs.users[:-1], True]
    held_out = is_last & (counts[pairs.users] >= min_interactions)
    return Split(
        train=pairs.subset(~held_out),
        test_users=pairs.users[held_out],
        test_items=pairs.items[held_out],
    )


def validation_split(split: Split, min_interactions: int = MIN_INTERACTIONS) -> Split:
    """The same protocol applied to a split's training data, for tuning.

    Hyperparameters chosen here never see the test items.
    """
    return leave_last_out(split.train, min_interactions)
