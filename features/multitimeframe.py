"""Higher-timeframe features joined as-of the higher bar's close.

The base candles are resampled into higher bars (1h -> 4h and 1d; 1d -> 1w; ...). A base
bar may only see a higher bar that had *closed* by the base bar's own close, so the join
key of a higher bar is its close time (start + length) and the still-forming higher bar
is never visible. Bars are stamped at their start, as everywhere in TX. Timeframe names
(`1m` .. `1w`) are pandas Timedelta strings, so this module needs nothing from `market`.
"""

import numpy as np
import pandas as pd
import talib


HIGHER = {"1m": ("15m", "1h"), "5m": ("1h", "4h"), "15m": ("1h", "4h"), "30m": ("4h", "1d"), "1h": ("4h", "1d"), "4h": ("1d", "1w"), "1d": ("1w",), "1w": ()}
_RULES = {"15m": "15min", "1h": "1h", "4h": "4h", "1d": "1D", "1w": "W-MON"}


def resample(candles: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """OHLCV of `timeframe` bars, stamped at their start; empty periods dropped, never filled."""
    rule = _RULES[timeframe]
    bars = candles.resample(rule, label="left", closed="left").agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    return bars.dropna(subset=["close"])


def _higher_features(bars: pd.DataFrame, tf: str) -> pd.DataFrame:
    c = bars["close"].to_numpy(dtype="float64")
    logc = np.log(c)
    ret1 = np.full_like(c, np.nan)
    ret1[1:] = np.diff(logc)
    with np.errstate(divide="ignore", invalid="ignore"):
        ema_dist = c / talib.EMA(c, timeperiod=20) - 1
        natr = talib.ATR(bars["high"].to_numpy(dtype="float64"), bars["low"].to_numpy(dtype="float64"), c, timeperiod=14) / c
    cols = {
        f"mtf_{tf}_ret_1": ret1,
        f"mtf_{tf}_rsi_14": talib.RSI(c, timeperiod=14) / 100 - 0.5,
        f"mtf_{tf}_ema_dist_20": ema_dist,
        f"mtf_{tf}_natr_14": natr,
    }
    return pd.DataFrame(cols, index=bars.index).replace([np.inf, -np.inf], np.nan)


def multitimeframe(candles: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """Features of each higher timeframe of `timeframe`, as known at each base bar's close."""
    out = pd.DataFrame(index=candles.index)
    base_close = candles.index + pd.Timedelta(timeframe)
    for tf in HIGHER.get(timeframe, ()):
        bars = resample(candles, tf)
        feats = _higher_features(bars, tf)
        # A higher bar is known from its close on; it must also not be the partial last bar.
        feats["_available"] = feats.index + pd.Timedelta(tf)
        left = pd.DataFrame({"_at": base_close}, index=candles.index)
        joined = pd.merge_asof(left, feats.sort_values("_available"), left_on="_at", right_on="_available", direction="backward")
        joined.index = candles.index
        out = out.join(joined.drop(columns=["_at", "_available"]))
    return out
