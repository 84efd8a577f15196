import numpy as np
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from app.recommenders.embedded.model import EmbeddedModel, FoldIn, ModelParams
from app.recommenders.embedded.training import train
from tests.recommenders.embedded.conftest import chain_data

PARAMS = ModelParams(
    factors=4,
    factor_regularization=0.1,
    factor_alpha=10.0,
    neighbor_weight=0.0,
    sequence_weight=0.0,
    factor_weight=1.0,
    history_half_life=1e9,
)


def test_folding_a_user_in_solves_the_same_least_squares_as_implicit():
    rng = np.random.default_rng(3)
    matrix = sp.random(30, 12, density=0.3, format="csr", random_state=rng)
    matrix.data = np.log1p(matrix.data * 5).astype(np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
        reference = AlternatingLeastSquares(
            factors=4, regularization=0.1, alpha=10.0, iterations=5, random_state=1
        )
        reference.fit(matrix, show_progress=False)
        expected = reference.recalculate_user(0, matrix[0])
    items = [str(i) for i in range(12)]
    zero = sp.csr_matrix((12, 12), dtype=np.float32)
    model = EmbeddedModel(
        items, zero, zero, reference.item_factors, np.ones(12, np.float32), PARAMS
    )
    row = matrix[0]
    history = FoldIn(
        rows=np.zeros(row.nnz, np.int32),
        items=row.indices.astype(np.int32),
        weights=row.data,
        ranks=np.zeros(row.nnz, np.float32),
        user_count=1,
    )
    folded = model._fold_in_factors(history, history.weights)
    assert folded[0] == pytest.approx(expected, rel=1e-3, abs=1e-4)


def test_factors_alone_recommend_what_goes_with_the_history():
    model = train(chain_data(), PARAMS)
    assert model.factors.shape == (7, 4)
    best = model.recommend(model.fold_in({"X": 1.0}), 1, {"X"})
    assert [item.item_id for item in best] == ["Y"]


def test_no_factors_are_trained_when_the_blend_does_not_use_them():
    model = train(chain_data(), ModelParams(factor_weight=0.0))
    assert model.factors.shape == (7, 0)
