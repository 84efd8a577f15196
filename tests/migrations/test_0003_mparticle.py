"""Revision 0003: replayed purchases stored before it are folded into one."""

import sqlite3
from pathlib import Path

from alembic import command

from app.migrations import alembic_config

COLUMNS = (
    "key, event_key, mpid, item_id, event_type, occurred_at_ms, received_at, "
    "transaction_id"
)


def test_upgrade_keeps_the_first_copy_of_each_replayed_transaction(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    config = alembic_config(f"sqlite:///{path}")
    command.upgrade(config, "0003_mparticle-1")
    rows = [
        ("m1#0", "m1", 5, "A", "purchase", 1, "2026-01-01", "T-1"),
        ("m2#0", "m2", 5, "A", "purchase", 2, "2026-01-01", "T-1"),
        ("m3#0", "m3", 5, "A", "refund", 3, "2026-01-01", "T-1"),
        ("m4#0", "m4", 5, "A", "view_detail", 4, "2026-01-01", "T-1"),
        ("m5#0", "m5", 5, "A", "view_detail", 5, "2026-01-01", "T-1"),
        ("m6#0", "m6", 6, "A", "purchase", 6, "2026-01-01", "T-1"),
    ]
    with sqlite3.connect(path) as connection:
        connection.executemany(
            f"INSERT INTO interactions ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - constant SQL
            rows,
        )

    command.upgrade(config, "head")

    with sqlite3.connect(path) as connection:
        kept = [row[0] for row in connection.execute("SELECT key FROM interactions")]
    assert sorted(kept) == ["m1#0", "m3#0", "m4#0", "m5#0", "m6#0"]
