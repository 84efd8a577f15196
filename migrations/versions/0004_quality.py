"""Model snapshots, the trainer lease and served recommendations.

Revision ID: 0004_quality
Revises: 0003_mparticle
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_quality"
down_revision: str | None = "0003_mparticle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "model_snapshots",
        sa.Column("id", BIGINT_PK, primary_key=True),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("trained_through_id", sa.BigInteger(), nullable=False),
        sa.Column("interaction_count", sa.BigInteger(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("training_seconds", sa.Float(), nullable=False),
        sa.Column("trained_by", sa.String(128), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_snapshots"),
    )
    op.create_table(
        "trainer_leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_trainer_leases"),
    )
    op.create_table(
        "served_recommendations",
        sa.Column("recommendation_id", sa.String(64), nullable=False),
        sa.Column("mpid", sa.BigInteger(), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("generated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("recommendation_id", name="pk_served_recommendations"),
    )
    op.create_index(
        "ix_served_recommendations_mpid_generated",
        "served_recommendations",
        ["mpid", "generated_at"],
    )
    op.create_index(
        "ix_served_recommendations_generated_at",
        "served_recommendations",
        ["generated_at"],
    )
    # Impact stats join interactions to the lists they were credited to.
    op.create_index(
        "ix_interactions_recommendation_id", "interactions", ["recommendation_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_interactions_recommendation_id", table_name="interactions")
    op.drop_table("served_recommendations")
    op.drop_table("trainer_leases")
    op.drop_table("model_snapshots")
