import numpy as np
import pytest

from app.recommenders.embedded import snapshot
from app.recommenders.embedded.model import ModelParams
from app.recommenders.embedded.training import train
from tests.recommenders.embedded.conftest import chain_data


def test_a_snapshot_loads_back_into_the_same_model():
    model = train(chain_data(), ModelParams(sequence_weight=0.3, neighbors=5))
    loaded = snapshot.load(snapshot.dump(model))
    assert loaded.items == model.items
    assert loaded.params == model.params
    assert loaded.interaction_count == model.interaction_count
    assert (loaded.neighbors != model.neighbors).nnz == 0
    assert (loaded.transitions != model.transitions).nnz == 0
    assert np.array_equal(loaded.popularity, model.popularity)
    history = loaded.fold_in({"B": 1.0, "X": 1.0})
    assert loaded.recommend(history, 4, set()) == model.recommend(
        model.fold_in({"B": 1.0, "X": 1.0}), 4, set()
    )


def test_garbage_is_refused_not_loaded():
    with pytest.raises(snapshot.SnapshotUnreadable):
        snapshot.load(b"not a snapshot")


def test_a_snapshot_of_another_format_is_refused(monkeypatch):
    payload = snapshot.dump(train(chain_data()))
    monkeypatch.setattr(snapshot, "FORMAT_VERSION", snapshot.FORMAT_VERSION + 1)
    with pytest.raises(snapshot.SnapshotUnreadable, match="snapshot format 2"):
        snapshot.load(payload)
