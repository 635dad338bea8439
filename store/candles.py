"""Candle queries: idempotent upserts and point-in-time reads."""

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from store.db import transaction
from store.models import Candle
from store.types import utcnow

OHLCV = ["open", "high", "low", "close", "volume"]


def upsert_candles(engine: Engine, symbol: str, timeframe: str, frame: pd.DataFrame, provider: str) -> int:
    """Insert or update bars keyed by (symbol, timeframe, ts), in one transaction.

    `frame` is in the normal form (UTC index, OHLCV float columns). Re-running with
    the same frame changes nothing; a revised bar overwrites the stored one. Returns
    the number of rows written.
    """
    if frame.empty:
        return 0
    now = utcnow()
    rows = [
        {"symbol": symbol, "timeframe": timeframe, "ts": ts.to_pydatetime(), "provider": provider, "ingested_at": now, **vals}
        for ts, vals in zip(frame.index, frame[OHLCV].to_dict("records"), strict=True)
    ]
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Candle)
    stmt = stmt.on_conflict_do_update(
        index_elements=["symbol", "timeframe", "ts"],
        set_={c: stmt.excluded[c] for c in [*OHLCV, "provider", "ingested_at"]},
    )
    with transaction(engine) as session:
        session.execute(stmt, rows)  # executemany, batched by SQLAlchemy's insertmanyvalues
    return len(rows)


def load_candles(
    engine: Engine,
    symbol: str,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """Stored bars in the normal form; `end` is inclusive, so a read at t sees nothing after t."""
    query = select(Candle.ts, *(getattr(Candle, c) for c in OHLCV)).where(
        Candle.symbol == symbol, Candle.timeframe == timeframe
    )
    if start is not None:
        query = query.where(Candle.ts >= start)
    if end is not None:
        query = query.where(Candle.ts <= end)
    with transaction(engine) as session:
        rows = session.execute(query.order_by(Candle.ts)).all()
    frame = pd.DataFrame(rows, columns=["timestamp", *OHLCV])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame.set_index("timestamp").astype("float64")


def coverage(engine: Engine) -> pd.DataFrame:
    """Per stored series: bar count and first/last timestamp."""
    query = select(
        Candle.symbol, Candle.timeframe, func.count(), func.min(Candle.ts), func.max(Candle.ts)
    ).group_by(Candle.symbol, Candle.timeframe).order_by(Candle.symbol, Candle.timeframe)
    with transaction(engine) as session:
        rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=["symbol", "timeframe", "bars", "first", "last"])
    for col in ("first", "last"):  # SQLite aggregates return strings, not datetimes
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def last_timestamp(engine: Engine, symbol: str, timeframe: str) -> datetime | None:
    """The newest stored bar of a series (where an incremental fetch resumes)."""
    query = select(func.max(Candle.ts)).where(Candle.symbol == symbol, Candle.timeframe == timeframe)
    with transaction(engine) as session:
        value = session.execute(query).scalar()
    if value is None:
        return None
    return pd.Timestamp(value).tz_localize("UTC").to_pydatetime() if pd.Timestamp(value).tz is None else pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


def providers_by_series(engine: Engine) -> pd.DataFrame:
    """Bars per (symbol, timeframe, provider): where the stored data came from."""
    query = select(Candle.symbol, Candle.timeframe, Candle.provider, func.count()).group_by(
        Candle.symbol, Candle.timeframe, Candle.provider
    )
    with transaction(engine) as session:
        rows = session.execute(query).all()
    return pd.DataFrame(rows, columns=["symbol", "timeframe", "provider", "bars"])
