"""Create every table: batches, interactions, impressions, jobs, recommendations.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
LIVE_JOB = sa.text("status <> 'dead'")


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", BIGINT_PK, primary_key=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("mpid", sa.BigInteger(), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_batches"),
        sa.UniqueConstraint("key", name="uq_batches_key"),
    )
    op.create_index("ix_batches_mpid", "batches", ["mpid"])
    op.create_index("ix_batches_received_at", "batches", ["received_at"])

    op.create_table(
        "interactions",
        sa.Column("id", BIGINT_PK, primary_key=True),
        sa.Column("key", sa.String(320), nullable=False),
        sa.Column("event_key", sa.String(300), nullable=False),
        sa.Column("batch_id", BIGINT_PK, nullable=True),
        sa.Column("mpid", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.String(256), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(256), nullable=True),
        sa.Column("occurred_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("transaction_id", sa.String(256), nullable=True),
        sa.Column("recommendation_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name="fk_interactions_batch_id_batches",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_interactions"),
        sa.UniqueConstraint("key", name="uq_interactions_key"),
    )
    op.create_index("ix_interactions_batch_id", "interactions", ["batch_id"])
    op.create_index("ix_interactions_item_id", "interactions", ["item_id"])
    op.create_index(
        "ix_interactions_mpid_occurred", "interactions", ["mpid", "occurred_at_ms"]
    )

    op.create_table(
        "impressions",
        sa.Column("id", BIGINT_PK, primary_key=True),
        sa.Column("key", sa.String(320), nullable=False),
        sa.Column("event_key", sa.String(300), nullable=False),
        sa.Column("batch_id", BIGINT_PK, nullable=True),
        sa.Column("mpid", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.String(256), nullable=False),
        sa.Column("list_name", sa.String(256), nullable=True),
        sa.Column("session_id", sa.String(256), nullable=True),
        sa.Column("occurred_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name="fk_impressions_batch_id_batches",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_impressions"),
        sa.UniqueConstraint("key", name="uq_impressions_key"),
    )
    op.create_index("ix_impressions_batch_id", "impressions", ["batch_id"])
    op.create_index(
        "ix_impressions_mpid_occurred", "impressions", ["mpid", "occurred_at_ms"]
    )

    op.create_table(
        "jobs",
        sa.Column("id", BIGINT_PK, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rerun", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_at", TIMESTAMP, nullable=False),
        sa.Column("lease_expires_at", TIMESTAMP, nullable=True),
        sa.Column("locked_by", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_status_run_at", "jobs", ["status", "run_at"])
    op.create_index(
        "uq_jobs_kind_key_live",
        "jobs",
        ["kind", "key"],
        unique=True,
        postgresql_where=LIVE_JOB,
        sqlite_where=LIVE_JOB,
    )

    op.create_table(
        "recommendations",
        sa.Column("mpid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("recommendation_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("generated_at", TIMESTAMP, nullable=False),
        sa.Column("synced_item_ids", sa.JSON(), nullable=True),
        sa.Column("synced_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("mpid", name="pk_recommendations"),
    )


def downgrade() -> None:
    op.drop_table("recommendations")
    op.drop_table("jobs")
    op.drop_table("impressions")
    op.drop_table("interactions")
    op.drop_table("batches")
