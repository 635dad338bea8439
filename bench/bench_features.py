"""Feature benchmark: the full feature set + 61 patterns with confidences + labels, against
raw TA-Lib computing the same patterns and indicators, in one run, on one core.

Run:  .venv/bin/python bench/bench_features.py [--bars 1000000] [--symbols 500] [--daily-bars 2500]
Targets (issue 4): full set within 3x of raw TA-Lib; labels >= 20M bars/s. Prints a
Markdown table for docs/BENCHMARKS.md. Each figure is the best of `--repeat` runs.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import talib  # noqa: E402

from features import BaseRates, build_features, outcomes, triple_barrier  # noqa: E402
from features.patterns import PATTERNS  # noqa: E402
from market.synthetic import generate, generate_many  # noqa: E402


def raw_talib(candles) -> None:
    """The TA-Lib calls behind `build_features` (patterns and base-timeframe indicators), and nothing else."""
    o, h, lo, c, v = (candles[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    for name in PATTERNS:
        getattr(talib, name)(o, h, lo, c)
    talib.RSI(c, 14), talib.MACD(c, 12, 26, 9), talib.BBANDS(c, 20, 2, 2), talib.ATR(h, lo, c, 14), talib.ADX(h, lo, c, 14)
    talib.PLUS_DI(h, lo, c, 14), talib.MINUS_DI(h, lo, c, 14), talib.STOCH(h, lo, c, 14, 3, 0, 3, 0), talib.OBV(c, v)
    talib.SUM(v, 20), talib.SMA(v, 20), talib.STDDEV(v, 20)
    for w in (12, 26, 50, 200):
        talib.EMA(c, w)
    for w in (10, 20, 60):
        talib.STDDEV(c, w)
    talib.MAX(c, 15), talib.MIN(c, 15), talib.MAX(h, 14), talib.MIN(lo, 14)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--daily-bars", type=int, default=2500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    candles = generate("BENCH", "1h", args.bars, seed=1)
    n = len(candles)
    raw = best(lambda: raw_talib(candles), args.repeat)
    t0 = time.perf_counter()
    rates = BaseRates(outcomes(candles, "1h"))  # the pipeline builds these once per universe, not per series
    rates_s = time.perf_counter() - t0
    feats = best(lambda: build_features(candles, "1h", rates), args.repeat)
    labels = best(lambda: triple_barrier(candles), args.repeat)
    full = feats + labels
    print(f"one series, {n:,} hourly bars, one core, best of {args.repeat}:")
    print("| work | seconds | bars/s | vs raw TA-Lib |")
    print("|---|---:|---:|---:|")
    print(f"| raw TA-Lib: 61 patterns + the indicator calls | {raw:.2f} | {n / raw:,.0f} | 1.0x |")
    print(f"| build_features (indicators, 61 patterns + confidences toward base rates, 4h/1d features) | {feats:.2f} | {n / feats:,.0f} | {feats / raw:.2f}x |")
    print(f"| triple_barrier labels (ATR barriers, horizon 10) | {labels:.3f} | {n / labels:,.0f} | |")
    print(f"| features + labels | {full:.2f} | {n / full:,.0f} | {full / raw:.2f}x |")
    print(f"(base rates from this series' outcomes, built once: {rates_s:.2f} s)")

    frames = generate_many([f"S{i:04d}" for i in range(args.symbols)], "1d", args.daily_bars, seed=2)
    t0 = time.perf_counter()
    universe_rates = BaseRates(pd.concat([outcomes(frame, "1d") for frame in frames.values()], ignore_index=True))
    for frame in frames.values():
        build_features(frame, "1d", universe_rates)
        triple_barrier(frame)
    total = time.perf_counter() - t0
    bars = args.symbols * args.daily_bars
    print(f"\n{args.symbols} symbols x {args.daily_bars:,} daily bars, base rates + features + labels end to end: {total:.1f} s ({bars / total:,.0f} bars/s)")
    assert np.isfinite(total)


if __name__ == "__main__":
    main()
