from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from store.db import alembic_config, current_revision, make_engine, upgrade
from store.models import Base

TABLES = {
    "candles", "pattern_detections", "predictions", "alerts", "paper_accounts", "paper_orders",
    "paper_trades", "positions", "outcomes", "api_keys", "news", "news_symbols",
}


def test_migrations_build_exactly_the_models(db_url):
    upgrade(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert diff == []
    assert TABLES <= tables


def test_migrations_are_idempotent_and_reversible(db_url):
    upgrade(db_url)
    head = current_revision(db_url)
    upgrade(db_url)
    assert current_revision(db_url) == head
    command.downgrade(alembic_config(db_url), "base")
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) == head


def test_query_paths_have_indexes(db_url):
    upgrade(db_url)
    engine = make_engine(db_url)
    insp = inspect(engine)
    indexed = {t: {tuple(ix["column_names"]) for ix in insp.get_indexes(t)} for t in ("alerts", "predictions", "pattern_detections")}
    detections = [c["column_names"] for c in insp.get_unique_constraints("pattern_detections")]
    engine.dispose()
    assert ("symbol", "direction", "source", "created_at") in indexed["alerts"]  # de-duplication window
    assert ("symbol", "timeframe", "ts", "model_name", "model_version") in indexed["predictions"]  # unique: one per bar and version
    assert detections == [["symbol", "timeframe", "ts", "pattern"]]  # its index serves (symbol, timeframe, ts) lookups
