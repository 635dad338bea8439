"""Features: indicators, candlestick patterns, multi-timeframe joins, labels.

Pure functions on candles in the normal form (a DataFrame indexed by tz-aware UTC
timestamps with float open/high/low/close/volume columns); point-in-time by construction
and proven so by tests/features/test_point_in_time.py.

    from features import build_features, triple_barrier
    X = build_features(candles, "1d")     # same index as candles
    y = triple_barrier(candles)           # labels look forward: never fed back into X
"""

import pandas as pd

from features.indicators import indicators
from features.labels import LABEL_COLUMNS, triple_barrier
from features.multitimeframe import multitimeframe
from features.patterns import pattern_features

__all__ = ["LABEL_COLUMNS", "build_features", "triple_barrier"]


def build_features(candles: pd.DataFrame, timeframe: str) -> pd.DataFrame:
    """The full feature frame: indicators, 61 patterns with point-in-time confidences and
    higher-timeframe features, one row per candle, NaN where a value is undefined."""
    return pd.concat([indicators(candles), pattern_features(candles), multitimeframe(candles, timeframe)], axis=1)
