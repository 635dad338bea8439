"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 05:20:36.696721
"""
from collections.abc import Sequence

from alembic import op
import sqlalchemy as sa
import store.types


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=128), nullable=False),
    sa.Column('scopes', sa.String(length=64), nullable=False),
    sa.Column('rate_limit_per_minute', sa.Integer(), nullable=True),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_api_keys_prefix'))
    )
    op.create_table('candles',
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('timeframe', sa.String(length=8), nullable=False),
    sa.Column('ts', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('open', sa.Float(), nullable=False),
    sa.Column('high', sa.Float(), nullable=False),
    sa.Column('low', sa.Float(), nullable=False),
    sa.Column('close', sa.Float(), nullable=False),
    sa.Column('volume', sa.Float(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('ingested_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('symbol', 'timeframe', 'ts', name=op.f('pk_candles'))
    )
    op.create_table('news',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=256), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('published_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('sentiment', sa.Float(), nullable=True),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_news')),
    sa.UniqueConstraint('content_hash', name=op.f('uq_news_content_hash'))
    )
    with op.batch_alter_table('news', schema=None) as batch_op:
        batch_op.create_index('ix_news_published_at', ['published_at'], unique=False)

    op.create_table('outcomes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subject_type', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('timeframe', sa.String(length=8), nullable=True),
    sa.Column('pattern', sa.String(length=64), nullable=True),
    sa.Column('realized_return', sa.Float(), nullable=True),
    sa.Column('hit', sa.Boolean(), nullable=True),
    sa.Column('horizon_bars', sa.Integer(), nullable=True),
    sa.Column('resolved_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcomes'))
    )
    with op.batch_alter_table('outcomes', schema=None) as batch_op:
        batch_op.create_index('ix_outcomes_subject', ['subject_type', 'subject_id'], unique=False)
        batch_op.create_index('ix_outcomes_symbol_resolved', ['symbol', 'timeframe', 'resolved_at'], unique=False)

    op.create_table('paper_accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('cash', sa.Float(), nullable=False),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_accounts')),
    sa.UniqueConstraint('name', name=op.f('uq_paper_accounts_name'))
    )
    op.create_table('pattern_detections',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('timeframe', sa.String(length=8), nullable=False),
    sa.Column('ts', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('pattern', sa.String(length=64), nullable=False),
    sa.Column('direction', sa.SmallInteger(), nullable=False),
    sa.Column('strength', sa.Float(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pattern_detections')),
    sa.UniqueConstraint('symbol', 'timeframe', 'ts', 'pattern', name='uq_pattern_detections_bar')
    )
    with op.batch_alter_table('pattern_detections', schema=None) as batch_op:
        batch_op.create_index('ix_pattern_detections_pattern', ['pattern', 'timeframe'], unique=False)
        batch_op.create_index('ix_pattern_detections_symbol_ts', ['symbol', 'timeframe', 'ts'], unique=False)

    op.create_table('predictions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('timeframe', sa.String(length=8), nullable=False),
    sa.Column('ts', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('model_name', sa.String(length=128), nullable=False),
    sa.Column('model_version', sa.String(length=32), nullable=False),
    sa.Column('probability', sa.Float(), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('layers', sa.JSON(), nullable=True),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_predictions'))
    )
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index('ix_predictions_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_predictions_model', ['model_name', 'model_version'], unique=False)
        batch_op.create_index('ix_predictions_symbol_ts', ['symbol', 'timeframe', 'ts'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('timeframe', sa.String(length=8), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('model_version', sa.String(length=32), nullable=True),
    sa.Column('prediction_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('data_partition', sa.String(length=128), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dismissed_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['prediction_id'], ['predictions.id'], name=op.f('fk_alerts_prediction_id_predictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_dedup', ['symbol', 'direction', 'source', 'created_at'], unique=False)
        batch_op.create_index('ix_alerts_status_created', ['status', 'created_at'], unique=False)

    op.create_table('news_symbols',
    sa.Column('news_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['news_id'], ['news.id'], name=op.f('fk_news_symbols_news_id_news'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('news_id', 'symbol', name=op.f('pk_news_symbols'))
    )
    with op.batch_alter_table('news_symbols', schema=None) as batch_op:
        batch_op.create_index('ix_news_symbols_symbol', ['symbol', 'news_id'], unique=False)

    op.create_table('paper_orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('type', sa.String(length=8), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=False),
    sa.Column('limit_price', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('filled_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['paper_accounts.id'], name=op.f('fk_paper_orders_account_id_paper_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_orders')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_paper_orders_idempotency_key'))
    )
    with op.batch_alter_table('paper_orders', schema=None) as batch_op:
        batch_op.create_index('ix_paper_orders_account_created', ['account_id', 'created_at'], unique=False)

    op.create_table('positions',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=False),
    sa.Column('avg_price', sa.Float(), nullable=False),
    sa.Column('realized_pnl', sa.Float(), nullable=False),
    sa.Column('updated_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['paper_accounts.id'], name=op.f('fk_positions_account_id_paper_accounts')),
    sa.PrimaryKeyConstraint('account_id', 'symbol', name=op.f('pk_positions'))
    )
    op.create_table('paper_trades',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('quantity', sa.Float(), nullable=False),
    sa.Column('entry_price', sa.Float(), nullable=False),
    sa.Column('fees', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('exit_price', sa.Float(), nullable=True),
    sa.Column('realized_pnl', sa.Float(), nullable=True),
    sa.Column('model_version', sa.String(length=32), nullable=True),
    sa.Column('layer_contributions', sa.JSON(), nullable=True),
    sa.Column('opened_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['paper_accounts.id'], name=op.f('fk_paper_trades_account_id_paper_accounts')),
    sa.ForeignKeyConstraint(['order_id'], ['paper_orders.id'], name=op.f('fk_paper_trades_order_id_paper_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_trades'))
    )
    with op.batch_alter_table('paper_trades', schema=None) as batch_op:
        batch_op.create_index('ix_paper_trades_account_status', ['account_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_paper_trades_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_paper_trades_symbol_opened', ['symbol', 'opened_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('paper_trades', schema=None) as batch_op:
        batch_op.drop_index('ix_paper_trades_symbol_opened')
        batch_op.drop_index(batch_op.f('ix_paper_trades_order_id'))
        batch_op.drop_index('ix_paper_trades_account_status')

    op.drop_table('paper_trades')
    op.drop_table('positions')
    with op.batch_alter_table('paper_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_paper_orders_account_created')

    op.drop_table('paper_orders')
    with op.batch_alter_table('news_symbols', schema=None) as batch_op:
        batch_op.drop_index('ix_news_symbols_symbol')

    op.drop_table('news_symbols')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_status_created')
        batch_op.drop_index('ix_alerts_dedup')

    op.drop_table('alerts')
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_index('ix_predictions_symbol_ts')
        batch_op.drop_index('ix_predictions_model')
        batch_op.drop_index('ix_predictions_created_at')

    op.drop_table('predictions')
    with op.batch_alter_table('pattern_detections', schema=None) as batch_op:
        batch_op.drop_index('ix_pattern_detections_symbol_ts')
        batch_op.drop_index('ix_pattern_detections_pattern')

    op.drop_table('pattern_detections')
    op.drop_table('paper_accounts')
    with op.batch_alter_table('outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_outcomes_symbol_resolved')
        batch_op.drop_index('ix_outcomes_subject')

    op.drop_table('outcomes')
    with op.batch_alter_table('news', schema=None) as batch_op:
        batch_op.drop_index('ix_news_published_at')

    op.drop_table('news')
    op.drop_table('candles')
    op.drop_table('api_keys')
