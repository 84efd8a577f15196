"""Count a replayed purchase or refund once: unique by transaction and item.

Revision ID: 0003_mparticle
Revises: 0002_personalize
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_mparticle"
down_revision: str | None = "0002_personalize"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRANSACTION_DEDUPED = (
    "transaction_id IS NOT NULL AND event_type IN ('purchase', 'refund')"
)
COLUMNS = ["mpid", "transaction_id", "event_type", "item_id"]


def upgrade() -> None:
    # Replays stored before this revision would break the unique index; the
    # first copy of each stays (the raw batches keep every copy).
    op.execute(
        sa.text(
            f"DELETE FROM interactions WHERE {TRANSACTION_DEDUPED} AND id NOT IN ("  # noqa: S608 - constant SQL
            f"SELECT MIN(id) FROM interactions WHERE {TRANSACTION_DEDUPED} "
            f"GROUP BY {', '.join(COLUMNS)})"
        )
    )
    op.create_index(
        "uq_interactions_transaction",
        "interactions",
        COLUMNS,
        unique=True,
        postgresql_where=sa.text(TRANSACTION_DEDUPED),
        sqlite_where=sa.text(TRANSACTION_DEDUPED),
    )


def downgrade() -> None:
    op.drop_index("uq_interactions_transaction", table_name="interactions")
