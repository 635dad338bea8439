"""drop ix_pattern_detections_symbol_ts: uq_pattern_detections_bar already leads with its columns

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_pattern_detections_symbol_ts", table_name="pattern_detections")


def downgrade() -> None:
    op.create_index("ix_pattern_detections_symbol_ts", "pattern_detections", ["symbol", "timeframe", "ts"])
