"""yfinance: its output shapes normalized, its failures mapped. The download function is
yfinance's own in production; here it replays frames shaped like yfinance 1.7's output."""

import numpy as np
import pandas as pd
import pytest

from market.errors import NoData, RateLimited, Unavailable
from market.yahoo import YahooProvider, from_yfinance


def yf_frame(index: pd.DatetimeIndex, symbol: str = "SPY", multi: bool = True, adj: bool = False) -> pd.DataFrame:
    n = len(index)
    data = {"Close": np.linspace(100, 101, n), "High": np.linspace(101, 102, n), "Low": np.linspace(99, 100, n), "Open": np.linspace(100, 101, n), "Volume": np.arange(n) + 1000}
    if adj:
        data["Adj Close"] = data["Close"] * 0.98
    frame = pd.DataFrame(data, index=index)
    if multi:  # yfinance >= 0.2.48 default: columns (Price, Ticker)
        frame.columns = pd.MultiIndex.from_product([frame.columns, [symbol]], names=["Price", "Ticker"])
    frame.index.name = "Date" if index.tz is None else "Datetime"
    return frame


def test_daily_multiindex_naive_dates_become_midnight_utc():
    raw = yf_frame(pd.DatetimeIndex(["2024-03-01", "2024-03-04"]))
    frame = from_yfinance(raw, "SPY", "1d")
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert list(frame.index) == [pd.Timestamp("2024-03-01", tz="UTC"), pd.Timestamp("2024-03-04", tz="UTC")]


def test_intraday_exchange_times_become_utc_and_adj_close_is_dropped():
    index = pd.date_range("2024-03-01 09:30", periods=3, freq="1h", tz="America/New_York")
    frame = from_yfinance(yf_frame(index, multi=False, adj=True), "SPY", "1h")
    assert frame.index[0] == pd.Timestamp("2024-03-01 14:30", tz="UTC")
    assert "adj close" not in frame.columns


def test_daily_bars_stamped_in_exchange_time_keep_their_date():
    index = pd.DatetimeIndex(["2024-03-01", "2024-03-04"]).tz_localize("America/New_York")
    frame = from_yfinance(yf_frame(index), "SPY", "1d")
    assert list(frame.index.strftime("%Y-%m-%d %H:%M")) == ["2024-03-01 00:00", "2024-03-04 00:00"]


def test_fetch_passes_yahoos_arguments_and_clamps_intraday_history():
    calls = []

    def download(symbol, **kwargs):
        calls.append((symbol, kwargs))
        return yf_frame(pd.date_range(pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(hours=3), periods=3, freq="1h"), symbol)

    provider = YahooProvider(download=download)
    frame = provider.fetch("SPY", "1h", start=pd.Timestamp("2001-01-01", tz="UTC").to_pydatetime())
    symbol, kwargs = calls[0]
    assert symbol == "SPY" and kwargs["interval"] == "1h" and kwargs["auto_adjust"] is True and kwargs["progress"] is False
    assert kwargs["start"] > pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=730)  # Yahoo's 1h window
    assert len(frame) == 3
    assert not provider.supports("4h")


def test_failures_map_to_chain_errors():
    class YFRateLimitError(Exception):
        pass

    def limited(symbol, **kwargs):
        raise YFRateLimitError("Too Many Requests. Rate limited. Try after a while.")

    def down(symbol, **kwargs):
        raise ConnectionError("Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com")

    with pytest.raises(RateLimited):
        YahooProvider(download=limited).fetch("SPY", "1d")
    with pytest.raises(Unavailable, match="Could not resolve host"):
        YahooProvider(download=down).fetch("SPY", "1d")
    with pytest.raises(NoData, match="unknown symbol"):
        YahooProvider(download=lambda symbol, **kw: pd.DataFrame()).fetch("NOPE", "1d")
