"""provider_status table; one prediction per (bar, model version)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_status",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_latency_ms", sa.Float(), nullable=True),
        sa.Column("updated_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_provider_status")),
    )
    op.drop_index("ix_predictions_symbol_ts", table_name="predictions")
    op.create_index("uq_predictions_bar", "predictions", ["symbol", "timeframe", "ts", "model_name", "model_version"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_predictions_bar", table_name="predictions")
    op.create_index("ix_predictions_symbol_ts", "predictions", ["symbol", "timeframe", "ts"])
    op.drop_table("provider_status")
