"""The normal form of candles used everywhere.

A DataFrame indexed by tz-aware UTC timestamps named `timestamp`, with float64
columns open, high, low, close, volume. `conform` gives raw data that shape;
whether the bars are sound (unique ascending timestamps, consistent OHLC, no NaN)
is the business of `market.quality`, so that a bad batch shows up as a failed
check instead of being quietly repaired.
"""

import pandas as pd

OHLCV = ["open", "high", "low", "close", "volume"]


class CandleFormatError(ValueError):
    """Data that cannot be put in the normal form at all; the message says what is wrong."""


def empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64") for c in OHLCV}, index=pd.DatetimeIndex([], tz="UTC", name="timestamp"))


def conform(raw: pd.DataFrame, source: str = "candles") -> pd.DataFrame:
    """`raw` (a `timestamp` column or index plus OHLCV columns, any case) in the normal form's shape.

    Naive timestamps are taken as UTC. Raises CandleFormatError, naming `source`, for
    missing columns, unparseable timestamps and non-numeric values.
    """
    frame = raw.copy()
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if "timestamp" in frame.columns:
        frame = frame.set_index("timestamp")
    missing = [c for c in OHLCV if c not in frame.columns]
    if missing:
        raise CandleFormatError(f"{source}: missing column(s) {', '.join(missing)}; expected timestamp,{','.join(OHLCV)}")
    if frame.empty:
        return empty()
    try:
        index = pd.to_datetime(frame.index, utc=True, format="ISO8601") if frame.index.dtype == object else pd.to_datetime(frame.index, utc=True)
    except (ValueError, TypeError) as exc:
        raise CandleFormatError(f"{source}: unparseable timestamp ({exc})") from exc
    frame.index = pd.DatetimeIndex(index, name="timestamp")
    try:
        return frame[OHLCV].apply(pd.to_numeric, errors="raise").astype("float64")
    except (ValueError, TypeError) as exc:
        raise CandleFormatError(f"{source}: non-numeric OHLCV value ({exc})") from exc


def stamp_daily(frame: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """Daily bars stamped 00:00Z of their date, weekly bars 00:00Z of their week's Monday,
    as everywhere in TX, whatever time of day a provider used."""
    if timeframe in ("1d", "1w"):
        index = frame.index.normalize()
        if timeframe == "1w":
            index = index - pd.to_timedelta(index.dayofweek, unit="D")
        frame = frame.set_axis(pd.DatetimeIndex(index, name="timestamp"), axis=0)
    return frame
