"""Pattern outcomes: what happened `horizon` bars after each detection, per-pattern figures,
and the pattern backtest.

A detection at bar t enters at t's close (`execution="close"`) or, as a backtest trades
by default, at the next bar's open (`"next_open"`); its return is the price `horizon` bars
after the entry over the entry price, signed by the pattern's direction (a bearish
pattern wins when price falls), less the round trip's costs 2 x (fee + slippage).
Detections whose horizon is not in the data yet are pending, never guessed.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.patterns import PATTERNS, forward_returns, raw_patterns
from trading.backtest import EXECUTIONS, BacktestInputError, BacktestResult, run_backtest


def detection_returns(candles: pd.DataFrame, horizon: int, *, execution: str = "close", fee: float = 0.0,
                      slippage: float = 0.0) -> pd.DataFrame:
    """One row per detection: ts, pattern, direction, strength, signed return, hit (NaN: pending)."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 bar, got {horizon}")
    if execution not in EXECUTIONS:
        raise ValueError(f"execution must be one of {EXECUTIONS}, got {execution!r}")
    raw = raw_patterns(candles)
    if execution == "close":
        fwd = forward_returns(candles["close"].to_numpy(dtype="float64"), horizon)
    else:  # from the next open to the open `horizon` bars later
        fwd = np.r_[forward_returns(candles["open"].to_numpy(dtype="float64"), horizon)[1:], np.nan]
    cost = 2 * (fee + slippage)  # the round trip
    parts = []
    for k, name in enumerate(PATTERNS):
        at = np.flatnonzero(raw[k])
        direction = np.sign(raw[k, at]).astype(int)
        signed = direction * fwd[at] - cost
        parts.append(pd.DataFrame({"ts": candles.index[at], "pattern": name, "direction": direction,
                                   "strength": np.abs(raw[k, at]) / 100.0, "return": signed,
                                   "hit": np.where(np.isnan(signed), np.nan, (signed > 0).astype(float))}))
    return pd.concat(parts, ignore_index=True).sort_values(["ts", "pattern"], ignore_index=True)


def pattern_performance(returns: pd.DataFrame, by: tuple[str, ...] = ("pattern",)) -> pd.DataFrame:
    """Per group: detections, matured, win rate, mean and median signed return, t-statistic of the mean."""
    matured = returns[returns["return"].notna()]
    counts = returns.groupby(list(by)).size().rename("count")
    stats = matured.groupby(list(by))["return"].agg(matured="size", win_rate=lambda r: float((r > 0).mean()),
                                                    mean_return="mean", median_return="median", std="std")
    out = pd.concat([counts, stats], axis=1).reset_index()
    out["matured"] = out["matured"].fillna(0).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["t_stat"] = out["mean_return"] / (out["std"] / np.sqrt(out["matured"]))
    return out.drop(columns="std").sort_values(["count", *by], ascending=[False, *[True] * len(by)], ignore_index=True)


def pattern_signals(candles: pd.DataFrame, horizon: int, patterns: list[str] | None = None) -> pd.Series:
    """Target positions of trading the detections: the net direction of the patterns found
    at bar t (+1, -1; ties stay flat), held for `horizon` bars, a newer detection taking over."""
    raw = raw_patterns(candles)
    if patterns is not None:
        raw = raw[[PATTERNS.index(p) for p in patterns]]
    vote = np.sign(np.sign(raw.astype(np.int64)).sum(axis=0)).astype(float)
    bars = np.arange(len(vote))
    last = np.maximum.accumulate(np.where(vote != 0, bars, -1))
    held = (last >= 0) & (bars - last < horizon)
    return pd.Series(np.where(held, vote[np.clip(last, 0, None)], 0.0), index=candles.index, name="signal")


@dataclass
class PatternBacktest:
    detections: pd.DataFrame  # one row per detection with its net signed return (detection_returns)
    table: pd.DataFrame  # per pattern: count, matured, win rate, mean/median return, t-statistic
    result: BacktestResult  # trading every detection through the engine


def pattern_backtest(candles: pd.DataFrame, horizon: int, *, fee: float = 0.0, slippage: float = 0.0,
                     execution: str = "next_open", patterns: list[str] | None = None) -> PatternBacktest:
    """Per pattern: detections, win rate, mean return and t-statistic net of costs; and the
    equity of trading every detection (net direction, held `horizon` bars) with the engine."""
    if horizon >= len(candles) - 1:
        raise BacktestInputError(f"horizon {horizon} leaves no outcome in {len(candles)} bars: use a shorter horizon or more data")
    unknown = sorted(set(patterns or []) - set(PATTERNS))
    if unknown:
        raise BacktestInputError(f"unknown pattern(s) {unknown}; see /api/patterns/list")
    rows = detection_returns(candles, horizon, execution=execution, fee=fee, slippage=slippage)
    if patterns is not None:
        rows = rows[rows["pattern"].isin(patterns)]
    table = pattern_performance(rows) if len(rows) else pd.DataFrame(columns=["pattern", "count", "matured", "win_rate", "mean_return",
                                                                              "median_return", "t_stat"])
    result = run_backtest(candles, pattern_signals(candles, horizon, patterns), fee=fee, slippage=slippage, execution=execution)
    return PatternBacktest(rows, table, result)
