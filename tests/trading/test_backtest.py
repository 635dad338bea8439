"""The backtest engine: the same numbers as vectorbt under the same semantics, stops as a
plain per-bar loop computes them, no look-ahead, and clear errors on bad input."""

import numpy as np
import pandas as pd
import pytest

from trading.backtest import BacktestInputError, run_backtest, simulate

vbt = pytest.importorskip("vectorbt")  # test-only reference (the dev extra installs it)

FEE, SLIP = 0.001, 0.0005


def _candles(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.012, n)))
    open_ = close * np.exp(rng.normal(0, 0.004, n))
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n)),
                         "low": np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n)), "close": close},
                        index=pd.date_range("2018-01-01", periods=n, freq="B", tz="UTC"))


def _strategies(c: pd.DataFrame) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    n = len(c)
    fast, slow = c["close"].rolling(10).mean(), c["close"].rolling(40).mean()
    return {
        "sma crossover, long only": np.where(fast > slow, 1.0, 0.0),
        "long/short flips every bar": np.sign(rng.normal(size=n)),
        "target weights": np.round(rng.uniform(-1, 1, n), 1),
        "sparse signals, NaN holds": np.where(rng.random(n) < 0.03, rng.choice([-1, -0.5, 0, 0.5, 1], n), np.nan),
    }


def _vectorbt(c: pd.DataFrame, signals: np.ndarray, execution: str):
    """The same semantics in vectorbt: orders only where the target changes, targetpercent
    sizing valued at the execution price."""
    target = pd.Series(signals, index=c.index).ffill().fillna(0.0)
    price = c["open"] if execution == "next_open" else c["close"]
    if execution == "next_open":
        target = target.shift(1).fillna(0.0)
    size = target.where(target != target.shift(1).fillna(0.0))
    return vbt.Portfolio.from_orders(c["close"], size=size, size_type="targetpercent", price=price, val_price=price,
                                     fees=FEE, slippage=SLIP, init_cash=10_000.0, direction="both", freq="1D")


@pytest.mark.parametrize("execution", ["next_open", "close"])
def test_matches_vectorbt_on_several_strategies_with_fees(execution):
    c = _candles()
    for name, signals in _strategies(c).items():
        ours = run_backtest(c, signals, fee=FEE, slippage=SLIP, execution=execution)
        ref = _vectorbt(c, signals, execution)
        assert ours.total_return == pytest.approx(ref.total_return(), rel=1e-9), name
        assert ours.max_drawdown == pytest.approx(-ref.max_drawdown(), rel=1e-9), name
        assert len(ours.trades) == ref.positions.count() > 10, name
        np.testing.assert_allclose(ours.equity.to_numpy(), ref.value().to_numpy(), rtol=1e-9, err_msg=name)
        positions = ref.positions.records_readable
        np.testing.assert_allclose(ours.trades["pnl"].to_numpy(), positions["PnL"].to_numpy(), rtol=1e-7, atol=1e-6, err_msg=name)


def _loop_with_stops(c: pd.DataFrame, signals: np.ndarray, stop_loss: float | None, take_profit: float | None) -> np.ndarray:
    """A plain per-bar loop of the documented semantics (next-open execution), for reference."""
    cash, shares, held, level_sl, level_tp = 10_000.0, 0.0, 0.0, None, None
    target_before, equity = 0.0, []
    o, h, lo, cl = (c[k].to_numpy() for k in ("open", "high", "low", "close"))
    targets = pd.Series(signals).ffill().fillna(0.0).to_numpy()
    stop_loss = np.inf if stop_loss is None else stop_loss  # a level no price reaches
    take_profit = np.inf if take_profit is None else take_profit

    def trade(to_shares: float, price: float) -> None:
        nonlocal cash, shares
        delta = to_shares - shares
        fill = price * (1 + SLIP) if delta > 0 else price * (1 - SLIP)
        if delta > 0 and delta * fill * (1 + FEE) > cash:
            delta = cash / (1 + FEE) / fill
        cash -= delta * fill + abs(delta) * fill * FEE
        shares += delta

    for t in range(len(c)):
        wanted = targets[t - 1] if t else 0.0
        if wanted != target_before:  # the open: a new target
            trade(wanted * (cash + shares * o[t]) / o[t], o[t])
            target_before, held = wanted, np.sign(wanted)
            level_sl = o[t] * (1 - held * stop_loss) if held else None
            level_tp = o[t] * (1 + held * take_profit) if held else None
        if held and shares != 0:  # the bar's range
            if held > 0:
                hit_sl, hit_tp = lo[t] <= level_sl, h[t] >= level_tp
                gap_sl, gap_tp = o[t] <= level_sl, o[t] >= level_tp
            else:
                hit_sl, hit_tp = h[t] >= level_sl, lo[t] <= level_tp
                gap_sl, gap_tp = o[t] >= level_sl, o[t] <= level_tp
            if hit_sl or hit_tp:
                price = o[t] if (gap_sl or gap_tp) else (level_sl if hit_sl else level_tp)
                trade(0.0, price)
                held = 0.0
        equity.append(cash + shares * cl[t])
    return np.array(equity)


@pytest.mark.parametrize("stop_loss, take_profit", [(0.03, 0.05), (0.03, None), (None, 0.05)])
def test_stops_follow_a_plain_loop(stop_loss, take_profit):
    c = _candles(800, seed=3)
    signals = np.where(np.random.default_rng(2).random(len(c)) < 0.05, np.random.default_rng(3).choice([-1.0, 0.5, 1.0], len(c)), np.nan)
    result = run_backtest(c, signals, fee=FEE, slippage=SLIP, stop_loss=stop_loss, take_profit=take_profit)
    np.testing.assert_allclose(result.equity.to_numpy(), _loop_with_stops(c, signals, stop_loss, take_profit), rtol=1e-9)
    reasons = set(result.trades["exit_reason"])
    assert ("stop_loss" in reasons) == (stop_loss is not None) and ("take_profit" in reasons) == (take_profit is not None)


def test_trades_add_up_to_the_equity_and_columns_are_independent():
    c = _candles(1000, seed=5)
    signals = _strategies(c)
    for name, s in signals.items():
        r = run_backtest(c, s, fee=FEE, slippage=SLIP, stop_loss=0.04)
        assert r.trades["pnl"].sum() == pytest.approx(r.equity.iloc[-1] - 10_000.0, rel=1e-9, abs=1e-6), name
    stacked = np.column_stack(list(signals.values()))
    many = simulate(*(np.repeat(c[k].to_numpy()[:, None], stacked.shape[1], axis=1) for k in ("open", "high", "low", "close")),
                    stacked, init_cash=10_000.0)
    for j, s in enumerate(signals.values()):
        np.testing.assert_allclose(many.equity[:, j], run_backtest(c, s).equity.to_numpy(), rtol=1e-12)


def test_no_look_ahead():
    """What happens after bar t never changes the equity up to t; a signal at t first
    moves the equity at t+1 (next open) unless close execution is asked for."""
    c = _candles(600, seed=7)
    signals = np.sign(np.random.default_rng(4).normal(size=len(c)))
    full = run_backtest(c, signals, fee=FEE, stop_loss=0.02)
    future = c.copy()
    future.iloc[400:, :] *= 1.5
    changed = signals.copy()
    changed[400:] = -changed[400:]
    cut = run_backtest(future, changed, fee=FEE, stop_loss=0.02)
    pd.testing.assert_series_equal(full.equity.iloc[:400], cut.equity.iloc[:400])
    flipped = signals.copy()
    flipped[300] = -flipped[300]
    moved = run_backtest(c, flipped, fee=FEE).equity
    base = run_backtest(c, signals, fee=FEE).equity
    assert moved.iloc[:301].equals(base.iloc[:301]) and moved.iloc[301] != base.iloc[301]


def test_metrics_are_consistent():
    c = _candles(2520, seed=9)
    r = run_backtest(c, np.ones(len(c)))  # buy and hold from the second open
    m = r.metrics
    assert r.total_return == pytest.approx(c["close"].iloc[-1] / c["open"].iloc[1] - 1)
    assert m["bars_per_year"] == pytest.approx(260.9, abs=0.5)  # business days
    assert m["trades"] == 1 and m["closed_trades"] == 0 and m["exposure"] == pytest.approx(1 - 1 / len(c))
    assert m["calmar"] == pytest.approx(m["annual_return"] / m["max_drawdown"])
    assert m["max_drawdown"] == pytest.approx(float((1 - r.equity / r.equity.cummax()).max()))
    assert r.drawdown.min() == pytest.approx(-m["max_drawdown"])  # flat on the first bar: the curve starts at the initial cash


@pytest.mark.parametrize("candles, signals, kwargs, message", [
    (lambda c: c.iloc[:0], lambda c: np.array([]), {}, "at least 2 candles"),
    (lambda c: c.iloc[:1], lambda c: np.ones(1), {}, "at least 2 candles"),
    (lambda c: c, lambda c: np.full(len(c), np.nan), {}, "all NaN"),
    (lambda c: c, lambda c: np.full(len(c), 1.5), {}, r"\[-1, 1\]"),
    (lambda c: c, lambda c: np.ones(len(c) - 1), {}, "one target per candle"),
    (lambda c: c, lambda c: pd.Series(1.0, index=c.index + pd.Timedelta("1h")), {}, "aligned"),
    (lambda c: c, lambda c: np.ones(len(c)), {"fee": -0.1}, "fee"),
    (lambda c: c, lambda c: np.ones(len(c)), {"execution": "same_bar_close"}, "execution"),
    (lambda c: c, lambda c: np.ones(len(c)), {"stop_loss": 1.2}, "stop_loss"),
    (lambda c: c.assign(close=-1.0), lambda c: np.ones(len(c)), {}, "positive"),
    (lambda c: c.iloc[::-1], lambda c: np.ones(len(c)), {}, "increasing"),
])
def test_bad_input_is_refused_clearly(candles, signals, kwargs, message):
    c = candles(_candles(50))
    with pytest.raises(BacktestInputError, match=message):
        run_backtest(c, signals(c), **kwargs)
