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
from features.labels import LABEL_COLUMNS, LabelSpec, triple_barrier
from features.multitimeframe import multitimeframe
from features.patterns import PRIOR, BaseRates, outcomes, pattern_features

__all__ = ["LABEL_COLUMNS", "BaseRates", "LabelSpec", "build_features", "outcomes", "triple_barrier"]


def build_features(candles: pd.DataFrame, timeframe: str, base_rates: BaseRates | None = None) -> pd.DataFrame:
    """The full feature frame: indicators, 61 patterns with point-in-time confidences (shrunk
    toward `base_rates`, the patterns' global rates, when given) and higher-timeframe
    features, one row per candle, NaN where a value is undefined."""
    patterns = pattern_features(candles, timeframe, prior=base_rates if base_rates is not None else PRIOR)
    return pd.concat([indicators(candles), patterns, multitimeframe(candles, timeframe)], axis=1)
