"""Strategy and pattern backtests: thresholds, baselines on the same bars, windows that
stitch, pattern trades held for their horizon, and costs that always cost."""

import numpy as np
import pandas as pd
import pytest

from market.synthetic import generate_many
from trading.backtest import BacktestInputError, format_return, run_backtest
from features.patterns import raw_patterns
from trading.patterns import detection_returns, pattern_backtest, pattern_signals
from trading.strategy import StrategyParams, sma_crossover, strategy_backtest, threshold_signals, vol_target, window_figures


@pytest.fixture(scope="module")
def candles():
    return generate_many(["X"], "1d", 900, seed=11)["X"]


def test_thresholds_make_long_short_and_flat():
    p = pd.Series([np.nan, 0.7, 0.55, 0.5, 0.45, 0.2])
    assert threshold_signals(p, StrategyParams()).tolist()[1:] == [1, 1, 0, -1, -1]
    assert np.isnan(threshold_signals(p, StrategyParams()).iloc[0])  # no prediction: hold
    assert threshold_signals(p, StrategyParams(allow_short=False)).tolist()[1:] == [1, 1, 0, 0, 0]
    with pytest.raises(BacktestInputError, match="sell_threshold"):
        StrategyParams(buy_threshold=0.4, sell_threshold=0.6)


def test_strategy_and_baselines_run_on_the_same_out_of_sample_bars(candles):
    rng = np.random.default_rng(0)
    probability = pd.Series(rng.uniform(0, 1, 500), index=candles.index[400:])  # predictions from bar 400 on only
    report = strategy_backtest(candles, probability, StrategyParams(fee=0.001))
    assert set(report.runs) == {"strategy", "buy_and_hold", "sma_crossover"}
    for run in report.runs.values():
        assert run.equity.index[0] == candles.index[400] and len(run.equity) == 500
    hold = report.runs["buy_and_hold"]
    bought = candles["open"].iloc[401] * 1.0005 * 1.001  # the next open, slippage and fee paid; held to the end
    assert hold.total_return == pytest.approx(candles["close"].iloc[-1] / bought - 1, rel=1e-12) and hold.metrics["trades"] == 1
    # the SMA baseline is warm at the start: its means use the closes before bar 400 too
    expected = sma_crossover(candles["close"], 20, 50).iloc[400:]
    assert run_backtest(candles.iloc[400:], expected, fee=0.001, slippage=0.0005).total_return == pytest.approx(report.runs["sma_crossover"].total_return)
    summary = report.summary()
    assert summary["excess_return"]["buy_and_hold"] == pytest.approx(report.runs["strategy"].total_return - hold.total_return)
    with pytest.raises(BacktestInputError, match="no out-of-sample probability"):
        strategy_backtest(candles, pd.Series([0.6], index=[pd.Timestamp("1990-01-01", tz="UTC")]))


def test_window_figures_stitch_into_the_whole(candles):
    signals = np.sign(np.random.default_rng(1).normal(size=len(candles)))
    result = run_backtest(candles, signals, fee=0.001)
    cuts = [candles.index[0], candles.index[300], candles.index[600]]
    spans = [(cuts[0], candles.index[299]), (cuts[1], candles.index[599]), (cuts[2], candles.index[-1])]
    rows = window_figures(result, spans)
    assert np.prod([1 + r["total_return"] for r in rows]) * (result.equity.iloc[0] / 10_000) - 1 == pytest.approx(result.total_return)
    assert sum(r["trades"] for r in rows) == len(result.trades)
    empty = window_figures(result, [(pd.Timestamp("1990-01-01", tz="UTC"), pd.Timestamp("1990-02-01", tz="UTC"))])
    assert empty[0]["bars"] == 0 and empty[0]["total_return"] is None


def test_pattern_trades_are_held_for_their_horizon_and_pay_costs(candles):
    signals = pattern_signals(candles, horizon=5).to_numpy()
    raw = raw_patterns(candles)
    expected, held, left = [], 0.0, 0  # a plain loop: the newest net vote, held for 5 bars
    for t in range(len(candles)):
        vote = np.sign(np.sign(raw[:, t].astype(int)).sum())
        if vote != 0:
            held, left = vote, 5
        expected.append(held if left > 0 else 0.0)
        left -= 1
    assert signals.tolist() == expected and (signals != 0).mean() > 0.2
    gross = detection_returns(candles, 5, execution="next_open")
    net = detection_returns(candles, 5, execution="next_open", fee=0.001, slippage=0.0005)
    assert (net["return"] - gross["return"]).dropna().to_numpy() == pytest.approx(-0.003)
    row = gross.dropna().iloc[0]
    t = candles.index.get_loc(row["ts"])
    o = candles["open"].to_numpy()
    assert row["return"] == pytest.approx(row["direction"] * (o[t + 6] / o[t + 1] - 1))  # next open to the open 5 bars later
    bt = pattern_backtest(candles, 5, fee=0.001, slippage=0.0005)
    assert bt.table["count"].sum() == len(bt.detections) and bt.result.metrics["trades"] > 10
    for bad, message in (({"horizon": 899}, "horizon"), ({"horizon": 5, "patterns": ["CDLNOPE"]}, "unknown pattern")):
        with pytest.raises(BacktestInputError, match=message):
            pattern_backtest(candles, **bad)


def test_vol_target_sizing_is_point_in_time_and_bounded(candles):
    signals = pd.Series(np.sign(np.random.default_rng(5).normal(size=len(candles))), index=candles.index)
    sized = vol_target(signals, candles["close"], 0.10, 252)
    cut = vol_target(signals.iloc[:500], candles["close"].iloc[:500], 0.10, 252)
    pd.testing.assert_series_equal(sized.iloc[:500], cut)  # the future never resizes the past
    assert (sized.abs() <= 1).all() and (sized.iloc[:20] == 0).all()  # flat until 20 returns are known
    assert np.allclose(sized * 10, np.round(sized * 10)) and (np.sign(sized[sized != 0]) == signals[sized != 0]).all()
    probability = pd.Series(np.random.default_rng(6).uniform(0, 1, len(candles)), index=candles.index)
    full = strategy_backtest(candles, probability, StrategyParams())
    scaled = strategy_backtest(candles, probability, StrategyParams(sizing="vol_target", target_vol=0.05))
    assert scaled.runs["strategy"].metrics["volatility"] < full.runs["strategy"].metrics["volatility"]
    assert scaled.runs["buy_and_hold"].total_return == full.runs["buy_and_hold"].total_return  # the baselines stay as they are
    with pytest.raises(BacktestInputError, match="sizing"):
        StrategyParams(sizing="martingale")


@pytest.mark.parametrize("total, annual, shown", [
    (0.12, 0.051, "+12.0% (log 0.113, CAGR +5.1%/yr)"),
    (-0.3, -0.05, "-30.0% (log -0.357, CAGR -5.0%/yr)"),
    (1161037271.513, 3.12, "+1.2e11% (log 20.9, CAGR +312.0%/yr)"),  # a planted signal, compounded over years
    (99.5, None, "+9950.0% (log 4.61)"),  # no CAGR known: none shown
    (100.0, 1.0, "+1.0e4% (log 4.62, CAGR +100.0%/yr)"),
    (-1.0, None, "-100.0% (wiped out)"),
    (None, None, "n/a"),
])
def test_returns_read_with_their_log_return_and_cagr(total, annual, shown):
    assert format_return(total, annual) == shown


def test_a_summarized_return_agrees_with_its_metrics(candles):
    m = run_backtest(candles, np.ones(len(candles))).metrics
    shown = format_return(m["total_return"], m["annual_return"])
    assert shown.startswith(f"{m['total_return']:+.1%} (log {np.log1p(m['total_return']):.3g}, CAGR {m['annual_return']:+.1%}/yr")
    assert (1 + m["total_return"]) ** (m["bars_per_year"] / m["bars"]) - 1 == pytest.approx(m["annual_return"])  # the CAGR
