from app.evaluation.dataset import Interactions
from app.evaluation.protocol import leave_last_out, validation_split
from tests.evaluation.conftest import interactions


def _data(rows: list[tuple[int, int, float, int]]) -> Interactions:
    return interactions(rows)


def test_last_item_in_time_is_held_out_whatever_the_file_order():
    data = _data(
        [
            (0, 3, 1, 300),
            (0, 1, 1, 100),
            (0, 2, 1, 200),
            (0, 4, 1, 50),
        ]
    )
    split = leave_last_out(data)
    assert split.test_users.tolist() == [0]
    assert split.test_items.tolist() == [3]
    assert sorted(split.train.items.tolist()) == [1, 2, 4]


def test_users_with_fewer_than_three_items_train_but_are_not_tested():
    data = _data(
        [
            (0, 0, 1, 1),
            (0, 1, 1, 2),
            (1, 0, 1, 1),
            (1, 1, 1, 2),
            (1, 2, 1, 3),
        ]
    )
    split = leave_last_out(data)
    assert split.test_users.tolist() == [1]
    assert sorted(split.train.users.tolist()) == [0, 0, 1, 1]


def test_repeat_events_are_one_interaction_dated_at_first_contact():
    # Item 5 viewed first, then items 6 and 7, then item 5 bought: the user's
    # last *new* item is 7, and 5 never appears in both train and test.
    data = _data(
        [
            (0, 5, 1, 10),
            (0, 6, 1, 20),
            (0, 7, 1, 30),
            (0, 5, 4, 40),
        ]
    )
    split = leave_last_out(data)
    assert split.test_items.tolist() == [7]
    assert sorted(split.train.items.tolist()) == [5, 6]
    assert split.train.weights[split.train.items == 5].tolist() == [5.0]


def test_items_netted_negative_are_neither_trained_nor_tested():
    data = _data(
        [
            (0, 1, 1, 10),
            (0, 2, 1, 20),
            (0, 3, 1, 30),
            (0, 4, 4, 40),
            (0, 4, -8, 50),  # refunded: the user does not want item 4
        ]
    )
    split = leave_last_out(data)
    assert split.test_items.tolist() == [3]
    assert 4 not in split.train.items.tolist()


def test_validation_split_never_contains_a_test_item():
    rows = [(u, i, 1.0, 10 * i) for u in range(5) for i in range(u, u + 5)]
    split = leave_last_out(_data(rows))
    validation = validation_split(split)
    for user, item in zip(split.test_users, split.test_items, strict=True):
        held = validation.train.items[validation.train.users == user].tolist()
        assert item not in held
        assert item not in validation.test_items[validation.test_users == user]
    assert len(validation.test_users) == 5
