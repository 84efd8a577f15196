from pathlib import Path

import pytest

from app.config import Settings
from app.evaluation.dataset import DatasetInvalid, read_personalize_csv

WEIGHT_OF = Settings(_env_file=None).weight_of


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "interactions.csv"
    path.write_text(text)
    return path


def test_reads_personalize_csv_with_event_weights(tmp_path):
    path = _write(
        tmp_path,
        "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP\n"
        "u1,A,purchase,19.9,1700000000\n"
        "u1,B,refund,,1700000100\n"
        "u2,A,view_detail,,1700000200\n"
        "u2,C,rating,,1700000300\n",
    )
    data = read_personalize_csv(path, WEIGHT_OF)
    assert data.user_ids == ["u1", "u2"]
    assert data.item_ids == ["A", "B", "C"]
    # An event type missing from the weights counts for nothing, not as interest.
    assert data.weights.tolist() == [4.0, -8.0, 1.0, 0.0]
    assert data.times_ms.tolist()[0] == 1_700_000_000_000


def test_without_event_type_every_row_weighs_one(tmp_path):
    path = _write(tmp_path, "user_id,item_id,timestamp\n1,10,5\n1,11,6\n")
    data = read_personalize_csv(path, WEIGHT_OF)
    assert data.weights.tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("USER_ID,ITEM_ID\n1,2\n", "header lacks TIMESTAMP"),
        ("USER_ID,ITEM_ID,TIMESTAMP\n1,2\n", ":2: 2 fields, expected 3"),
        ("USER_ID,ITEM_ID,TIMESTAMP\n1,2,yesterday\n", "TIMESTAMP 'yesterday'"),
    ],
)
def test_bad_files_are_refused_naming_the_problem(tmp_path, text, message):
    with pytest.raises(DatasetInvalid, match=message):
        read_personalize_csv(_write(tmp_path, text), WEIGHT_OF)
