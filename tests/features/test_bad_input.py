"""Too little history, constant prices, zero volume, NaN holes: defined output, no exception."""

import numpy as np
import pandas as pd

from features import build_features
from market.synthetic import generate


def test_too_little_history_gives_nan_not_errors():
    feats = build_features(generate("SHORT", "1d", 10), "1d")
    assert len(feats) == 10
    assert feats["ema_dist_200"].isna().all() and feats["rsi_14"].isna().all()
    assert feats["ret_1"].iloc[1:].notna().all()


def test_constant_prices_and_zero_volume():
    idx = pd.date_range("2024-01-01", periods=300, freq="1D", tz="UTC")
    candles = pd.DataFrame({"open": 50.0, "high": 50.0, "low": 50.0, "close": 50.0, "volume": 0.0}, index=idx)
    feats = build_features(candles, "1d")
    assert np.isfinite(feats.to_numpy()[~np.isnan(feats.to_numpy())]).all()  # NaN where undefined, never inf
    assert feats["rsi_14"].isna().all() and feats["stoch_k"].isna().all() and feats["volume_z_20"].isna().all()
    assert (feats["ret_20"].dropna() == 0).all() and (feats["rvol_20"].dropna() == 0).all()


def test_nan_holes_are_not_filled():
    candles = generate("HOLE", "1d", 300, seed=4)
    candles.iloc[150] = np.nan
    feats = build_features(candles, "1d")
    assert np.isnan(feats["ret_1"].iloc[150]) and np.isnan(feats["ret_1"].iloc[151])  # no forward-fill across the hole
    assert feats["ret_1"].iloc[152:].notna().all()


def test_series_shorter_than_the_pattern_horizon():
    from features import BaseRates, outcomes

    for n in (1, 3, 4, 5):
        candles = generate("TINY", "1d", n)
        assert len(build_features(candles, "1d")) == n
        assert outcomes(candles, "1d").empty
    assert BaseRates(outcomes(generate("TINY", "1d", 3), "1d")).at("CDLDOJI", generate("TINY", "1d", 3).index).tolist() == [0.5] * 3
