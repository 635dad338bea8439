"""The normal form of candles used everywhere, and its validation.

A DataFrame indexed by tz-aware UTC timestamps (unique, ascending) named
`timestamp`, with float64 columns open, high, low, close, volume.
"""

import pandas as pd

OHLCV = ["open", "high", "low", "close", "volume"]


class CandleFormatError(ValueError):
    """Candles that cannot be put in the normal form; the message says what is wrong."""


def normalize(raw: pd.DataFrame, source: str = "candles") -> pd.DataFrame:
    """Validate and convert `raw` (a `timestamp` column or index plus OHLCV) to the normal form.

    Refuses rather than repairs: duplicate or unparseable timestamps, missing columns,
    non-numeric or non-finite prices and bars whose high/low do not bound open/close
    are reported with `source` in the message.
    """
    frame = raw.copy()
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if "timestamp" in frame.columns:
        frame = frame.set_index("timestamp")
    missing = [c for c in OHLCV if c not in frame.columns]
    if missing:
        raise CandleFormatError(f"{source}: missing column(s) {', '.join(missing)}; expected timestamp,{','.join(OHLCV)}")
    if frame.empty:
        raise CandleFormatError(f"{source}: no rows")
    try:
        index = pd.to_datetime(frame.index, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise CandleFormatError(f"{source}: unparseable timestamp ({exc})") from exc
    frame.index = pd.DatetimeIndex(index, name="timestamp")
    frame = frame[OHLCV]
    try:
        frame = frame.apply(pd.to_numeric, errors="raise").astype("float64")
    except (ValueError, TypeError) as exc:
        raise CandleFormatError(f"{source}: non-numeric OHLCV value ({exc})") from exc
    bad = ~frame.apply(pd.Series.between, args=(-1e300, 1e300)).all(axis=1)
    if bad.any():
        raise CandleFormatError(f"{source}: {int(bad.sum())} row(s) with missing or infinite values, first at {frame.index[bad][0]}")
    if frame.index.has_duplicates:
        raise CandleFormatError(f"{source}: duplicate timestamp {frame.index[frame.index.duplicated()][0]}")
    if not frame.index.is_monotonic_increasing:
        frame = frame.sort_index()
    lo, hi = frame[["open", "close"]].min(axis=1), frame[["open", "close"]].max(axis=1)
    broken = (frame["high"] < hi) | (frame["low"] > lo) | (frame[["open", "high", "low", "close"]] <= 0).any(axis=1)
    if broken.any():
        raise CandleFormatError(
            f"{source}: {int(broken.sum())} bar(s) violate low <= open,close <= high with positive prices, first at {frame.index[broken][0]}"
        )
    if (frame["volume"] < 0).any():
        raise CandleFormatError(f"{source}: negative volume")
    return frame
