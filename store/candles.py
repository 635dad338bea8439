"""Candle queries: idempotent bulk upserts and point-in-time reads."""

from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from store.db import transaction
from store.models import Candle
from store.types import utcnow

OHLCV = ["open", "high", "low", "close", "volume"]
_COLUMNS = ["symbol", "timeframe", "ts", *OHLCV, "provider", "ingested_at"]
_UPDATE = ", ".join(f"{c} = excluded.{c}" for c in [*OHLCV, "provider", "ingested_at"])
_STAGE = "CREATE TEMP TABLE IF NOT EXISTS candles_stage (LIKE candles) ON COMMIT DELETE ROWS"
_MERGE = (
    f"INSERT INTO candles ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} FROM candles_stage "
    f"ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET {_UPDATE}"
)
_SQLITE_UPSERT = (
    f"INSERT INTO candles ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    f"ON CONFLICT (symbol, timeframe, ts) DO UPDATE SET {_UPDATE}"
)


def upsert_candles(engine: Engine, symbol: str, timeframe: str, frame: pd.DataFrame, provider: str) -> int:
    """Insert or update bars keyed by (symbol, timeframe, ts), in one transaction.

    `frame` is in the normal form (UTC index, OHLCV float columns). Re-running with
    the same frame changes nothing; a revised bar overwrites the stored one. Returns
    the number of rows written. Bulk paths, never row-at-a-time statements: a binary
    COPY into a staging table plus one INSERT ... ON CONFLICT on PostgreSQL, one
    driver-level executemany on SQLite (figures in docs/BENCHMARKS.md).
    """
    if frame.empty:
        return 0
    if frame.index.tz is None:
        raise ValueError("naive timestamps: candles must be tz-aware")
    if engine.dialect.name == "postgresql":
        return _copy_upsert(engine, symbol, timeframe, frame, provider)
    return _sqlite_upsert(engine, symbol, timeframe, frame, provider)


def _copy_upsert(engine: Engine, symbol: str, timeframe: str, frame: pd.DataFrame, provider: str) -> int:
    now = utcnow()
    columns = (frame[c].to_numpy().tolist() for c in OHLCV)
    rows = zip(frame.index.tz_convert("UTC").to_pydatetime(), *columns, strict=True)
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute(_STAGE)
        with cursor.copy(f"COPY candles_stage ({', '.join(_COLUMNS)}) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["text", "text", "timestamptz", *["float8"] * len(OHLCV), "text", "timestamptz"])
            for ts, *values in rows:
                copy.write_row((symbol, timeframe, ts, *values, provider, now))
        cursor.execute(_MERGE)
    return len(frame)


def _sqlite_text(stamps: pd.DatetimeIndex) -> list[str]:
    """UTC timestamps as SQLAlchemy stores DateTime in SQLite ('YYYY-MM-DD HH:MM:SS.ffffff'), vectorized."""
    text = np.datetime_as_string(stamps.tz_convert("UTC").tz_localize(None).to_numpy("datetime64[us]"), unit="us")
    return np.char.replace(text, "T", " ").tolist()


def _sqlite_upsert(engine: Engine, symbol: str, timeframe: str, frame: pd.DataFrame, provider: str) -> int:
    now = _sqlite_text(pd.DatetimeIndex([utcnow()]))[0]
    columns = (frame[c].to_numpy().tolist() for c in OHLCV)
    rows = [(symbol, timeframe, ts, *values, provider, now) for ts, *values in zip(_sqlite_text(frame.index), *columns, strict=True)]
    with engine.begin() as conn:
        conn.exec_driver_sql(_SQLITE_UPSERT, rows)  # one executemany in the sqlite3 driver
    return len(rows)


def load_candles(
    engine: Engine,
    symbol: str,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    last: int | None = None,
) -> pd.DataFrame:
    """Stored bars in the normal form; `end` is inclusive, so a read at t sees nothing after t.
    `last` keeps only the latest n bars (read newest first from the primary-key index)."""
    query = select(Candle.ts, *(getattr(Candle, c) for c in OHLCV)).where(
        Candle.symbol == symbol, Candle.timeframe == timeframe
    )
    if start is not None:
        query = query.where(Candle.ts >= start)
    if end is not None:
        query = query.where(Candle.ts <= end)
    with transaction(engine) as session:
        if last is not None:
            rows = session.execute(query.order_by(Candle.ts.desc()).limit(last)).all()[::-1]
        else:
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


def newest_bar(engine: Engine, symbol: str, timeframe: str) -> datetime | None:
    """The time of the series' newest stored bar; None when nothing is stored."""
    return resume_from(engine, symbol, timeframe, overlap_bars=0)


def resume_from(engine: Engine, symbol: str, timeframe: str, overlap_bars: int) -> datetime | None:
    """Where an incremental fetch resumes: the stored bar `overlap_bars` before the newest
    one (counted in stored bars, so weekends and holidays do not shrink the overlap);
    None when nothing is stored."""
    query = (
        select(Candle.ts).where(Candle.symbol == symbol, Candle.timeframe == timeframe)
        .order_by(Candle.ts.desc()).limit(overlap_bars + 1)
    )
    with transaction(engine) as session:
        recent = session.execute(query).scalars().all()
    return recent[-1] if recent else None


def providers_by_series(engine: Engine) -> pd.DataFrame:
    """Bars per (symbol, timeframe, provider): where the stored data came from."""
    query = select(Candle.symbol, Candle.timeframe, Candle.provider, func.count()).group_by(
        Candle.symbol, Candle.timeframe, Candle.provider
    )
    with transaction(engine) as session:
        rows = session.execute(query).all()
    return pd.DataFrame(rows, columns=["symbol", "timeframe", "provider", "bars"])


def last_price_query(symbol: str):
    """(close, bar time, timeframe) of the symbol's most recent stored bar, any timeframe."""
    return select(Candle.close, Candle.ts, Candle.timeframe).where(Candle.symbol == symbol).order_by(Candle.ts.desc()).limit(1)


def last_price(engine: Engine, symbol: str) -> tuple[float, datetime, str] | None:
    with transaction(engine) as session:
        row = session.execute(last_price_query(symbol)).first()
    return None if row is None else (float(row[0]), row[1], row[2])
