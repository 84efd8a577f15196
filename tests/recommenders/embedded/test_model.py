import numpy as np
import pytest

from app.recommenders.embedded.model import (
    EmbeddedModel,
    FoldIn,
    ModelParams,
    ParamsInvalid,
    net_weights,
    overrides_of,
    params_with,
)


def _ids(items) -> list[str]:
    return [item.item_id for item in items]


def test_the_next_item_in_the_chain_comes_first(chain_model: EmbeddedModel):
    after_b = chain_model.recommend(chain_model.fold_in({"B": 1.0}), 3, {"B"})
    assert _ids(after_b)[0] == "C"
    after_c = chain_model.recommend(chain_model.fold_in({"C": 1.0}), 3, {"C"})
    assert _ids(after_c)[0] == "D"


def test_a_new_interaction_changes_the_list_without_retraining(chain_model):
    before = chain_model.recommend(chain_model.fold_in({"B": 1.0}), 3, set())
    # Most recent first: the user has just looked at X.
    history = net_weights([("X", 1.0), ("B", 1.0)])
    after = chain_model.recommend(chain_model.fold_in(history), 4, set())
    assert "Y" not in _ids(before)
    assert "Y" in _ids(after)


def test_excluded_items_are_never_recommended(chain_model):
    items = chain_model.recommend(chain_model.fold_in({"B": 1.0}), 6, {"C", "A"})
    assert "C" not in _ids(items)
    assert "A" not in _ids(items)
    assert len(items) == 5


def test_items_netted_to_zero_or_below_are_not_folded_in(chain_model):
    history = net_weights([("X", -2.0), ("X", 2.0)])
    assert len(chain_model.fold_in(history).items) == 0
    assert chain_model.recommend(chain_model.fold_in(history), 3, set()) == []


def test_net_weights_sum_per_item_most_recent_first():
    net = net_weights([("B", 1.0), ("A", 2.0), ("B", -2.0), ("A", 4.0)])
    assert list(net.items()) == [("B", -1.0), ("A", 6.0)]


def test_similar_items_come_from_co_interaction(chain_model):
    similar = chain_model.similar("X", 3)
    assert similar is not None
    assert _ids(similar) == ["Y"]
    assert chain_model.similar("unknown", 3) is None


def test_popular_items_are_ordered_by_recent_weight(chain_model):
    popular = _ids(chain_model.popular(7, set()))
    assert set(popular[:4]) == {"A", "B", "C", "D"}
    assert set(popular[4:6]) == {"X", "Y"}
    assert popular[6] == "Z"
    assert "A" not in _ids(chain_model.popular(3, {"A"}))


def test_scoring_users_together_equals_scoring_each_alone(chain_model):
    first = chain_model.fold_in(net_weights([("B", 1.0), ("A", 1.0)]))
    second = chain_model.fold_in({"X": 2.0})
    both = FoldIn(
        rows=np.r_[first.rows, second.rows + 1],
        items=np.r_[first.items, second.items],
        weights=np.r_[first.weights, second.weights],
        ranks=np.r_[first.ranks, second.ranks],
        user_count=2,
    )
    together = chain_model.scores(both)
    assert np.allclose(together[0], chain_model.scores(first)[0])
    assert np.allclose(together[1], chain_model.scores(second)[0])


def test_an_empty_model_recommends_nothing():
    empty = EmbeddedModel.empty()
    assert empty.recommend(empty.fold_in({"B": 1.0}), 3, set()) == []
    assert empty.popular(3, set()) == []


def test_parameter_overrides_apply_and_round_trip():
    params = params_with({"sequence_weight": "0.4", "neighbors": 50})
    assert params.sequence_weight == 0.4
    assert params.neighbors == 50
    assert overrides_of(params) == {"sequence_weight": 0.4, "neighbors": 50}
    assert overrides_of(ModelParams()) == {}


def test_unknown_or_mistyped_overrides_are_refused_by_name():
    with pytest.raises(ParamsInvalid, match=r"unknown parameters \['sequnce_weight'\]"):
        params_with({"sequnce_weight": 0.4})
    with pytest.raises(ParamsInvalid, match="RECLOOP_EMBEDDED_PARAMS"):
        params_with({"neighbors": "many"})
