"""Track which interactions were forwarded to Amazon Personalize.

Revision ID: 0002_personalize
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_personalize"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFORWARDED = sa.text("forwarded_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(
            sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_index(
        "ix_interactions_unforwarded",
        "interactions",
        ["mpid", "occurred_at_ms"],
        postgresql_where=UNFORWARDED,
        sqlite_where=UNFORWARDED,
    )


def downgrade() -> None:
    op.drop_index("ix_interactions_unforwarded", table_name="interactions")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("forwarded_at")
