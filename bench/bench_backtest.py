"""Backtest benchmark: `trading.backtest` against vectorbt on the same work, side by side.

The same work: an SMA-crossover long/short strategy, fee 0.1%, slippage 0.05%, executed at
the next open, ending in total return, max drawdown and the trade count. vectorbt runs it
as `Portfolio.from_orders(size_type="targetpercent")` (the same semantics: the figures are
checked equal before any timing counts) and, for scale, as `from_signals` (long/flat).
Also 500 symbols x 2,500 bars as columns of one call.

Run:  .venv/bin/python bench/bench_backtest.py [--bars 1000000] [--symbols 500] [--daily-bars 2500] [--repeat 3]
Target (issue 8): faster than vectorbt with the same results. Prints a Markdown table for
docs/BENCHMARKS.md; each figure is the best of `--repeat` runs.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import vectorbt as vbt  # noqa: E402

from trading.backtest import Costs, run_backtest, simulate  # noqa: E402
from trading.risk import max_drawdown  # noqa: E402

FEE, SLIP = 0.001, 0.0005


def candles(n: int, seed: int, freq: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = close * np.exp(rng.normal(0, 0.0003, n))
    return pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999,
                         "close": close}, index=pd.date_range("2000-01-01", periods=n, freq=freq))


def crossover(close: pd.DataFrame | pd.Series) -> np.ndarray:
    return np.where(close.rolling(50).mean() > close.rolling(200).mean(), 1.0, -1.0)


def vectorbt_orders(open_: pd.Series | pd.DataFrame, close: pd.Series | pd.DataFrame, signals: np.ndarray, freq: str):
    """Next-open execution of target positions, as vectorbt orders (only where the target changes)."""
    target = pd.DataFrame(signals, index=close.index).shift(1).fillna(0.0)
    size = target.where(target != target.shift(1).fillna(0.0))
    pf = vbt.Portfolio.from_orders(close, size=size if size.shape[1] > 1 else size.iloc[:, 0], size_type="targetpercent",
                                   price=open_, val_price=open_, fees=FEE, slippage=SLIP, init_cash=10_000.0, freq=freq)
    return pf.total_return(), pf.max_drawdown(), pf.positions.count()


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--daily-bars", type=int, default=2500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []

    c = candles(args.bars, 0, "min")
    signals = crossover(c["close"])
    ours = lambda: run_backtest(c, signals, fee=FEE, slippage=SLIP)  # noqa: E731
    theirs = lambda: vectorbt_orders(c["open"], c["close"], signals[:, None], "1min")  # noqa: E731
    ours(), theirs(), vbt.Portfolio.from_signals(c["close"].iloc[:1000], signals[:1000] > 0, signals[:1000] < 0)  # compile
    t_ours, r = best(ours, args.repeat)
    t_vbt, (total, dd, count) = best(theirs, args.repeat)
    assert np.isclose(r.total_return, total, rtol=1e-9) and np.isclose(r.max_drawdown, -dd, rtol=1e-9) and len(r.trades) == count
    t_stops, _ = best(lambda: run_backtest(c, signals, fee=FEE, slippage=SLIP, stop_loss=0.01, take_profit=0.02), args.repeat)
    t_signals, _ = best(lambda: (pf := vbt.Portfolio.from_signals(c["close"], signals > 0, signals < 0, fees=FEE, freq="1min"),
                                 pf.total_return(), pf.max_drawdown()), args.repeat)
    t_numpy, _ = best(lambda: (eq := np.cumprod(1 + np.r_[0, np.diff(c["close"].to_numpy()) / c["close"].to_numpy()[:-1]] * np.r_[0, signals[:-1]]),
                               max_drawdown(eq)), args.repeat)
    n = args.bars
    rows += [(f"{n:,} bars, run_backtest (trades {len(r.trades):,})", t_ours, n / t_ours),
             (f"{n:,} bars, run_backtest with stop-loss and take-profit", t_stops, n / t_stops),
             (f"{n:,} bars, vectorbt from_orders (same semantics, same figures)", t_vbt, n / t_vbt),
             (f"{n:,} bars, vectorbt from_signals (long/flat, for scale)", t_signals, n / t_signals),
             (f"{n:,} bars, bare numpy equity (no fills, costs or trades)", t_numpy, n / t_numpy)]

    many = [candles(args.daily_bars, seed, "B") for seed in range(args.symbols)]
    wide = {k: pd.DataFrame({i: m[k].to_numpy() for i, m in enumerate(many)}, index=many[0].index) for k in ("open", "high", "low", "close")}
    sig = crossover(wide["close"])
    def columns():  # the same figures as vectorbt's: total return, max drawdown and trade count per column
        sim = simulate(wide["open"].to_numpy(), wide["high"].to_numpy(), wide["low"].to_numpy(), wide["close"].to_numpy(),
                       sig, costs=Costs(FEE, SLIP), init_cash=10_000.0)
        curve = np.vstack([np.full((1, sim.equity.shape[1]), 10_000.0), sim.equity])
        drawdown = np.max(1 - curve / np.maximum.accumulate(curve, axis=0), axis=0)
        return sim.equity[-1] / 10_000.0 - 1, drawdown, np.bincount(sim.trades["col"], minlength=sim.equity.shape[1])

    t_cols, (ours_total, ours_dd, ours_count) = best(columns, args.repeat)
    t_vcols, (total, dd, count) = best(lambda: vectorbt_orders(wide["open"], wide["close"], sig, "1D"), args.repeat)
    assert np.allclose(ours_total, total.to_numpy(), rtol=1e-9) and np.allclose(ours_dd, -dd.to_numpy(), rtol=1e-9)
    assert (ours_count == count.to_numpy()).all()
    t_loop, _ = best(lambda: [run_backtest(m, s, fee=FEE, slippage=SLIP) for m, s in zip(many, sig.T)], 1)
    total_bars = args.symbols * args.daily_bars
    rows += [(f"{args.symbols} symbols x {args.daily_bars:,} bars, simulate (columns of one call) + return, drawdown, trades", t_cols, total_bars / t_cols),
             (f"{args.symbols} symbols x {args.daily_bars:,} bars, vectorbt from_orders (same figures)", t_vcols, total_bars / t_vcols),
             (f"{args.symbols} symbols x {args.daily_bars:,} bars, run_backtest per symbol (with metrics)", t_loop, total_bars / t_loop)]

    print("| work | seconds | bars/s |\n|---|---:|---:|")
    for name, seconds, rate in rows:
        print(f"| {name} | {seconds:.3f} | {rate / 1e6:.1f}M |")
    print(f"\nrun_backtest vs vectorbt from_orders on {n:,} bars: {t_vbt / t_ours:.1f}x faster; "
          f"{args.symbols} columns: {t_vcols / t_cols:.1f}x faster")


if __name__ == "__main__":
    main()
