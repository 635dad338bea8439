"""Our TA-Lib indicator columns against `ta` (pandas, the dev extra), an independent
implementation, on a fixed synthetic series and the bundled GOOGL daily series.

Where the definitions agree the columns are equal from their first defined bar: Bollinger %b
and width (both use the population standard deviation; ta's width is in percent), the slow
stochastics (ta's `stoch_signal` is the 3-bar mean of fast %K, our slow %K; our slow %D is one
more 3-bar mean of it, which ta does not offer; TA-Lib starts slow %K where slow %D starts, ta
two bars earlier), the volume z-score (ta's Bollinger bands over volume at one deviation) and
the 1-bar log return.

Where they differ only in how a recursive average starts, the difference decays geometrically
and the columns are compared after a warm-up: TA-Lib starts an EMA (EMA, MACD) at the mean of
its first w values and Wilder's averages (RSI, ATR, +DI/-DI, ADX) at the first window's mean;
ta starts pandas' `ewm(adjust=False)` at the first value (EMA, MACD, RSI) and its ATR and ADX
one bar earlier, filling the warm-up with 0 where TA-Lib leaves NaN. After WILDER bars, and
8 w bars for an EMA of w bars, they agree within TOLERANCE.

OBV differs by definition: on an unchanged close ta adds the bar's volume, TA-Lib nothing; the
test asserts exactly that difference (GOOGL has unchanged closes, the synthetic series none).
Columns with no ta counterpart are listed in NOT_COMPARED with the reason. docs/STACK.md
(ta) says the same for readers of the docs.
"""

import pandas as pd
import pytest
import ta

from features.indicators import EMA_WINDOWS, RETURN_WINDOWS, VOL_WINDOWS, indicators
from features.multitimeframe import multitimeframe, resample
from market.files import bundled
from market.synthetic import generate
from market.universe import Series

TOLERANCE = 1e-6  # absolute, on the scaled columns (ratios, oscillators in [-0.5, 0.5])
WILDER = 300  # bars: Wilder's 14-bar averages and MACD's 26/9-bar EMAs are within 1e-7 of each other by then
STOCH = 17  # TA-Lib gives slow %K only from slow %D's first bar on (13 + 2 + 2 bars); ta two bars earlier
NOT_COMPARED = {
    **{f"ret_{w}": "a log return over w > 1 bars: ta has only the 1-bar one" for w in RETURN_WINDOWS if w > 1},
    **{f"rvol_{w}": "the sample standard deviation of 1-bar log returns: ta has no rolling deviation" for w in VOL_WINDOWS},
    "range_pct": "(high - low) / close: arithmetic, no indicator",
    "body_pct": "(close - open) / close: arithmetic, no indicator",
}
SERIES = {
    "synthetic": lambda: generate("REF", "1d", 3000, seed=7),
    "GOOGL": lambda: bundled().read(Series("GOOGL", "1d")),
}


@pytest.fixture(scope="module", params=list(SERIES))
def candles(request: pytest.FixtureRequest) -> pd.DataFrame:
    return SERIES[request.param]()


def reference(candles: pd.DataFrame) -> dict[str, tuple[pd.Series, int]]:
    """ta's value of each comparable column of `indicators`, and the bars of warm-up before it agrees."""
    h, lo, c, v = candles["high"], candles["low"], candles["close"], candles["volume"]
    macd = ta.trend.MACD(c, window_slow=26, window_fast=12, window_sign=9)
    bands = ta.volatility.BollingerBands(c, window=20, window_dev=2)
    adx = ta.trend.ADXIndicator(h, lo, c, window=14)
    slow_k = ta.momentum.StochasticOscillator(h, lo, c, window=14, smooth_window=3).stoch_signal()
    volume_bands = ta.volatility.BollingerBands(v, window=20, window_dev=1)
    return {
        "ret_1": (ta.others.DailyLogReturnIndicator(c).daily_log_return() / 100, 0),
        "rsi_14": (ta.momentum.RSIIndicator(c, window=14).rsi() / 100 - 0.5, WILDER),
        "macd": (macd.macd() / c, WILDER),
        "macd_signal": (macd.macd_signal() / c, WILDER),
        "macd_hist": (macd.macd_diff() / c, WILDER),
        "bb_pctb": (bands.bollinger_pband(), 0),
        "bb_width": (bands.bollinger_wband() / 100, 0),
        "natr_14": (ta.volatility.AverageTrueRange(h, lo, c, window=14).average_true_range() / c, WILDER),
        "adx_14": (adx.adx() / 100, WILDER),
        "di_diff_14": ((adx.adx_pos() - adx.adx_neg()) / 100, WILDER),
        "stoch_k": (slow_k / 100 - 0.5, STOCH),
        "stoch_d": (slow_k.rolling(3).mean() / 100 - 0.5, STOCH),
        **{f"ema_dist_{w}": (c / ta.trend.EMAIndicator(c, window=w).ema_indicator() - 1, 8 * w) for w in EMA_WINDOWS},
        "volume_z_20": ((v - volume_bands.bollinger_mavg()) / (volume_bands.bollinger_hband() - volume_bands.bollinger_mavg()), 0),
    }


def assert_close(what: str, ours: pd.Series, theirs: pd.Series) -> None:
    assert ours.notna().sum() > 100, f"{what}: too little to compare"
    assert ours.isna().equals(theirs.isna()), f"{what}: undefined at other bars"
    gap = (ours - theirs).abs().max()
    assert gap <= TOLERANCE, f"{what}: off by up to {gap:.2e}"


def test_every_indicator_column_is_compared_or_says_why_not(candles):
    compared = set(reference(candles)) | {"obv_flow_20"}  # OBV: its own test below
    assert compared.isdisjoint(NOT_COMPARED) and compared | set(NOT_COMPARED) == set(indicators(candles).columns)


def test_indicators_equal_ta_after_the_warm_up(candles):
    ours = indicators(candles)
    for column, (theirs, warmup) in reference(candles).items():
        assert_close(f"{column} after {warmup} bars", ours[column].iloc[warmup:], theirs.iloc[warmup:])


def test_obv_flow_differs_from_ta_by_the_volume_of_unchanged_closes(candles):
    c, v = candles["close"], candles["volume"]
    theirs = ta.volume.OnBalanceVolumeIndicator(c, v).on_balance_volume().diff(20) / v.rolling(20).sum()
    unchanged_volume = v.where(c.diff() == 0, 0.0).rolling(20).sum() / v.rolling(20).sum()  # ta adds it, TA-Lib does not
    assert_close("obv_flow_20", indicators(candles)["obv_flow_20"], theirs - unchanged_volume)


def test_weekly_features_equal_ta_on_the_weekly_bars_as_known_at_each_daily_close(candles):
    """multitimeframe(1d) against ta on the same weekly bars, each known from its own close on."""
    ours = multitimeframe(candles, "1d")
    weekly = resample(candles, "1w")
    h, lo, c = weekly["high"], weekly["low"], weekly["close"]
    expected = {
        "mtf_1w_ret_1": (ta.others.DailyLogReturnIndicator(c).daily_log_return() / 100, 0),
        "mtf_1w_rsi_14": (ta.momentum.RSIIndicator(c, window=14).rsi() / 100 - 0.5, WILDER),
        "mtf_1w_ema_dist_20": (c / ta.trend.EMAIndicator(c, window=20).ema_indicator() - 1, 8 * 20),
        "mtf_1w_natr_14": (ta.volatility.AverageTrueRange(h, lo, c, window=14).average_true_range() / c, WILDER),
    }
    assert set(expected) == set(ours.columns)
    week, day = pd.Timedelta("1w"), pd.Timedelta("1d")
    for column, (theirs, warmup) in expected.items():
        known = theirs.set_axis(theirs.index + week).reindex(candles.index + day, method="ffill").set_axis(candles.index)
        after = candles.index >= weekly.index[warmup] + week  # daily bars that see a warmed-up weekly bar
        assert_close(f"{column} after {warmup} weekly bars", ours[column][after], known[after])
