"""Erasures: the Personalize data deletion job each pending MPID was sent in.

Revision ID: 0006_personalize_deletion
Revises: 0005_operations
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_personalize_deletion"
down_revision: str | None = "0005_operations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("erasures") as batch:
        batch.add_column(
            sa.Column("personalize_deletion_job", sa.String(63), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("erasures") as batch:
        batch.drop_column("personalize_deletion_job")
