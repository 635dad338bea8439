"""Yahoo Finance through yfinance, for the intervals it supports.

yfinance returns adjusted prices (auto_adjust), MultiIndex columns (Price, Ticker),
naive exchange dates for daily bars and exchange-local times for intraday ones;
`from_yfinance` turns that into the normal form.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pandas as pd

from market.errors import BadPayload, NoData, RateLimited, Unavailable
from market.frames import CandleFormatError, conform, empty, stamp_daily
from market.providers import between
from market.universe import Series, timeframe_delta

INTERVALS = {"1m": "1m", "5m": "5m", "15m": "15m", "30m": "30m", "1h": "1h", "1d": "1d", "1w": "1wk"}
# How far back Yahoo serves each intraday interval.
LOOKBACK = {"1m": timedelta(days=7), "5m": timedelta(days=59), "15m": timedelta(days=59), "30m": timedelta(days=59), "1h": timedelta(days=729)}


def from_yfinance(raw: pd.DataFrame, symbol: str, timeframe: str) -> pd.DataFrame:
    """yfinance's download frame (either column layout, any time zone) in the normal form's shape."""
    if raw is None or raw.empty:
        return empty()
    frame = raw
    if isinstance(frame.columns, pd.MultiIndex):
        level = next((i for i in range(frame.columns.nlevels) if symbol in frame.columns.get_level_values(i)), None)
        frame = frame.xs(symbol, axis=1, level=level) if level is not None else frame.droplevel(-1, axis=1)
    frame = frame.drop(columns=[c for c in frame.columns if str(c).lower() == "adj close"])
    index = pd.DatetimeIndex(frame.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    frame = frame.set_axis(index, axis=0)
    frame.index.name = "timestamp"
    return stamp_daily(conform(frame.dropna(how="all"), f"yfinance {symbol}"), timeframe)


class YahooProvider:
    name = "yfinance"
    live = True

    def __init__(self, download: Callable[..., pd.DataFrame] | None = None, timeout_s: float = 10.0) -> None:
        if download is None:
            import yfinance

            download = yfinance.download
        self.download = download
        self.timeout_s = timeout_s

    def supports(self, timeframe: str) -> bool:
        return timeframe in INTERVALS

    def listing(self) -> list[Series]:
        return []

    def fetch(self, symbol: str, timeframe: str, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        if timeframe not in INTERVALS:
            raise NoData(self.name, f"no {timeframe} bars")
        now = datetime.now(UTC)
        if timeframe in LOOKBACK:  # Yahoo refuses intraday requests older than its window
            start = max(start or now - LOOKBACK[timeframe], now - LOOKBACK[timeframe])
        kwargs = {"interval": INTERVALS[timeframe], "auto_adjust": True, "progress": False, "threads": False, "timeout": self.timeout_s}
        if start is None:
            kwargs["period"] = "max"
        else:
            kwargs["start"] = start
            kwargs["end"] = (end or now) + timeframe_delta(timeframe)  # yfinance's end is exclusive
        try:
            raw = self.download(symbol, **kwargs)
        except Exception as exc:
            if "ratelimit" in type(exc).__name__.lower() or "too many requests" in str(exc).lower():
                raise RateLimited(self.name, str(exc)) from exc
            raise Unavailable(self.name, f"{type(exc).__name__}: {exc}") from exc
        try:
            frame = from_yfinance(raw, symbol, timeframe)
        except CandleFormatError as exc:
            raise BadPayload(self.name, str(exc)) from exc
        if frame.empty and start is None:
            raise NoData(self.name, f"no data for {symbol} (unknown symbol or delisted)")
        return between(frame, start, end)
