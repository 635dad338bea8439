"""Point-in-time proof on every feature column: computed on candles cut at t, the row at t
equals the row computed on the full history. Plus the warm-up drift bound, and proof that
no feature depends on the future (which is what labels are made of)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features import BaseRates, build_features, outcomes, triple_barrier
from features.pit import WARMUP_BARS, WARMUP_TOLERANCE, drift_columns, leaks
from market.files import bundled
from market.synthetic import generate
from market.universe import Series

BUNDLED = bundled().listing()


@pytest.mark.parametrize("series", BUNDLED, ids=str)
def test_every_column_is_point_in_time_on_the_bundled_series(series):
    candles = bundled().read(series)
    full = build_features(candles, series.timeframe)
    cuts = np.random.default_rng(7).choice(np.arange(50, len(candles)), size=12, replace=False)
    assert leaks(candles, series.timeframe, cuts, full=full) == []


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), timeframe=st.sampled_from(["1h", "1d"]), cut=st.integers(30, 799), signal=st.floats(0, 0.5))
def test_every_column_is_point_in_time_on_any_synthetic_series(seed, timeframe, cut, signal):
    candles = generate("HYP", timeframe, 800, seed=seed, signal=signal)
    assert leaks(candles, timeframe, [cut]) == []


def test_a_leaking_feature_is_caught():
    candles = generate("LEAK", "1d", 400, seed=1)

    def leaky(c, tf):
        return build_features(c, tf).assign(tomorrow=c["close"].shift(-1))

    assert leaks(candles, "1d", [100, 200], build=leaky) == [("tomorrow", candles.index[100]), ("tomorrow", candles.index[200])]


def test_warm_up_length_moves_results_by_less_than_the_documented_tolerance():
    candles = bundled().read(Series("SPX", "1d"))
    long_history = build_features(candles, "1d")
    short_start = 1500
    short_history = build_features(candles.iloc[short_start:], "1d")
    judged = candles.index[short_start + WARMUP_BARS :]
    columns = drift_columns(long_history.columns)
    diff = (long_history.loc[judged, columns] - short_history.loc[judged, columns]).abs().max()
    assert diff.max() <= WARMUP_TOLERANCE, diff.sort_values().tail(3)
    assert {"cdl_bull_conf", "ema_dist_200", "mtf_1w_rsi_14"} & set(columns) == {"ema_dist_200", "mtf_1w_rsi_14"}


def test_changing_the_future_changes_labels_but_no_feature():
    candles = bundled().read(Series("GOOGL", "1d"))
    t = 1500
    altered = candles.copy()
    altered.iloc[t + 1 :] *= 1.7  # a different future, from the bar after t on
    f_orig, f_alt = build_features(candles, "1d"), build_features(altered, "1d")
    pd.testing.assert_frame_equal(f_orig.iloc[: t + 1], f_alt.iloc[: t + 1])
    l_orig, l_alt = triple_barrier(candles), triple_barrier(altered)
    assert not l_orig.iloc[t - 5 : t + 1].equals(l_alt.iloc[t - 5 : t + 1])  # labels look forward
    assert set(f_orig.columns).isdisjoint(l_orig.columns)


def test_higher_timeframe_bars_are_seen_only_after_they_close():
    candles = bundled().read(Series("EURUSD", "1h"))
    feats = build_features(candles, "1h")
    daily = candles["close"].resample("1D").last().dropna()
    day_ret = np.log(daily).diff()
    at = pd.Timestamp("2017-03-15 10:00", tz="UTC")  # mid-session: today's daily bar is still forming
    assert feats.loc[at, "mtf_1d_ret_1"] == pytest.approx(day_ret.loc["2017-03-14"].item())
    last_hour = pd.Timestamp("2017-03-15 23:00", tz="UTC")  # this bar closes at midnight, with the day
    assert feats.loc[last_hour, "mtf_1d_ret_1"] == pytest.approx(day_ret.loc["2017-03-15"].item())


def test_global_base_rates_are_looked_up_point_in_time():
    series = [s for s in BUNDLED if s.timeframe == "1d"]
    table = pd.concat([outcomes(bundled().read(s), s.timeframe) for s in series], ignore_index=True)
    rates = BaseRates(table)  # built from every outcome, future ones included
    when = pd.DatetimeIndex(["2005-06-01", "2012-03-01"], tz="UTC")
    for t in when:
        known = BaseRates(table[table["known_at"] <= t])  # only what was known at t
        for pattern in ("CDLDOJI", "CDLENGULFING", "CDLHAMMER"):
            assert rates.at(pattern, pd.DatetimeIndex([t]))[0] == known.at(pattern, pd.DatetimeIndex([t]))[0]
    candles = bundled().read(Series("SPX", "1d"))
    cuts = np.random.default_rng(3).choice(np.arange(100, len(candles)), size=8, replace=False)
    assert leaks(candles, "1d", cuts, build=lambda c, tf: build_features(c, tf, rates)) == []
    with_rates = build_features(candles, "1d", rates)["cdl_bull_conf"]
    assert not with_rates.equals(build_features(candles, "1d")["cdl_bull_conf"])  # the prior matters
