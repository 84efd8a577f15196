"""A trained model as bytes and back: numpy's npz container, no pickle.

Loading never executes code from the database: arrays are read with
``allow_pickle=False`` and names and parameters travel as JSON.
"""

import io
import json
from dataclasses import asdict, fields

import numpy as np
import scipy.sparse as sp

from app.recommenders.embedded.model import EmbeddedModel, ModelParams

FORMAT_VERSION = 2
_MATRICES = ("neighbors", "transitions")


class SnapshotUnreadable(ValueError):
    """The bytes are not a snapshot this version of recloop can read."""


def dump(model: EmbeddedModel) -> bytes:
    arrays: dict[str, np.ndarray] = {
        "items": _json_bytes(model.items),
        "params": _json_bytes(asdict(model.params)),
        "meta": np.asarray([FORMAT_VERSION, model.interaction_count], dtype=np.int64),
        "popularity": model.popularity,
        "factors": model.factors,
    }
    for name in _MATRICES:
        matrix: sp.csr_matrix = getattr(model, name)
        arrays[f"{name}_data"] = matrix.data
        arrays[f"{name}_indices"] = matrix.indices
        arrays[f"{name}_indptr"] = matrix.indptr
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def load(payload: bytes) -> EmbeddedModel:
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as arrays:
            version, interaction_count = (int(v) for v in arrays["meta"])
            if version != FORMAT_VERSION:
                raise SnapshotUnreadable(
                    f"snapshot format {version}; this recloop reads {FORMAT_VERSION}"
                )
            items = json.loads(arrays["items"].tobytes())
            size = len(items)
            matrices = {
                name: sp.csr_matrix(
                    (
                        arrays[f"{name}_data"],
                        arrays[f"{name}_indices"],
                        arrays[f"{name}_indptr"],
                    ),
                    shape=(size, size),
                )
                for name in _MATRICES
            }
            return EmbeddedModel(
                items=items,
                popularity=arrays["popularity"],
                factors=arrays["factors"],
                params=_params(json.loads(arrays["params"].tobytes())),
                interaction_count=interaction_count,
                **matrices,
            )
    except (OSError, KeyError, ValueError) as exc:
        if isinstance(exc, SnapshotUnreadable):
            raise
        raise SnapshotUnreadable(f"snapshot is unreadable: {exc}") from None


def _params(values: dict) -> ModelParams:
    # Parameters a newer or older recloop does not know keep their defaults.
    known = {f.name for f in fields(ModelParams)}
    return ModelParams(**{k: v for k, v in values.items() if k in known})


def _json_bytes(value: object) -> np.ndarray:
    return np.frombuffer(json.dumps(value).encode(), dtype=np.uint8)
