"""events (the live feed's log, cursor = id); paper_accounts.initial_cash; orders' fill
price and fees; the order that closed a lot; a lot's side is long | short

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_symbol_id", "events", ["symbol", "id"])
    with op.batch_alter_table("paper_accounts") as batch:
        batch.add_column(sa.Column("initial_cash", sa.Float(), nullable=True))
    with op.batch_alter_table("paper_orders") as batch:
        batch.add_column(sa.Column("fill_price", sa.Float(), nullable=True))
        batch.add_column(sa.Column("fees", sa.Float(), nullable=True))
    with op.batch_alter_table("paper_trades") as batch:
        batch.add_column(sa.Column("exit_order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True))
        batch.create_foreign_key(op.f("fk_paper_trades_exit_order_id_paper_orders"), "paper_orders", ["exit_order_id"], ["id"])
        batch.create_index("ix_paper_trades_exit_order_id", ["exit_order_id"])
        batch.alter_column("side", type_=sa.String(length=8), existing_type=sa.String(length=4), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("paper_trades") as batch:
        batch.alter_column("side", type_=sa.String(length=4), existing_type=sa.String(length=8), existing_nullable=False)
        batch.drop_index("ix_paper_trades_exit_order_id")
        batch.drop_constraint(op.f("fk_paper_trades_exit_order_id_paper_orders"), type_="foreignkey")
        batch.drop_column("exit_order_id")
    with op.batch_alter_table("paper_orders") as batch:
        batch.drop_column("fees")
        batch.drop_column("fill_price")
    with op.batch_alter_table("paper_accounts") as batch:
        batch.drop_column("initial_cash")
    op.drop_index("ix_events_symbol_id", table_name="events")
    op.drop_table("events")
