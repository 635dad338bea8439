"""Strategy backtests: the fused model's probabilities through thresholds, against
buy-and-hold and an SMA crossover over the same bars, and figures per walk-forward window.

The probabilities must be out of sample (walk-forward predictions, each made by a model
that never saw that bar's label): the backtest runs only where they exist, and the
baselines run on exactly those bars, so the comparison is like for like.
"""

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from trading.backtest import BacktestInputError, BacktestResult, bars_per_year, run_backtest
from trading.risk import max_drawdown


SIZINGS = ("full", "vol_target")


@dataclass(frozen=True)
class StrategyParams:
    buy_threshold: float = 0.55  # probability of "up" at or above which to be long
    sell_threshold: float = 0.45  # at or below which to be short (or flat when shorts are off)
    allow_short: bool = True
    fee: float = 0.001
    slippage: float = 0.0005
    execution: str = "next_open"
    stop_loss: float | None = None
    take_profit: float | None = None
    sma_fast: int = 20
    sma_slow: int = 50
    sizing: str = "full"  # or "vol_target": scale the strategy's positions to target_vol
    target_vol: float = 0.15  # annualized

    def __post_init__(self) -> None:
        if self.sizing not in SIZINGS:
            raise BacktestInputError(f"sizing must be one of {SIZINGS}, got {self.sizing!r}")
        if not 0 < self.target_vol <= 2:
            raise BacktestInputError(f"target_vol must be in (0, 2], got {self.target_vol}")
        if not 0 <= self.sell_threshold <= self.buy_threshold <= 1:
            raise BacktestInputError(f"need 0 <= sell_threshold <= buy_threshold <= 1, got {self.sell_threshold} and {self.buy_threshold}")
        if not 1 <= self.sma_fast < self.sma_slow:
            raise BacktestInputError(f"need 1 <= sma_fast < sma_slow, got {self.sma_fast} and {self.sma_slow}")

    def costs(self) -> dict:
        """The engine's keyword arguments."""
        return {"fee": self.fee, "slippage": self.slippage, "execution": self.execution,
                "stop_loss": self.stop_loss, "take_profit": self.take_profit}

    def as_dict(self) -> dict:
        return asdict(self)


def threshold_signals(probability: pd.Series, params: StrategyParams) -> pd.Series:
    """+1 at or above the buy threshold, -1 (or 0) at or below the sell threshold, flat
    between; NaN where there is no prediction."""
    p = probability.to_numpy(dtype="float64")
    short = -1.0 if params.allow_short else 0.0
    out = np.where(p >= params.buy_threshold, 1.0, np.where(p <= params.sell_threshold, short, 0.0))
    return pd.Series(np.where(np.isnan(p), np.nan, out), index=probability.index, name="signal")


def vol_target(signals: pd.Series, close: pd.Series, target_vol: float, per_year: float, lookback: int = 20,
               step: float = 0.1) -> pd.Series:
    """Positions scaled so their volatility is about `target_vol` a year: x target_vol /
    (volatility of the last `lookback` returns, known at each close), capped at 1, rounded
    to `step` so that small changes of the estimate do not trade; flat until it is known."""
    vol = np.log(close).diff().rolling(lookback).std() * np.sqrt(per_year)
    scale = (target_vol / vol).clip(upper=1.0).fillna(0.0)
    return (np.round(signals * scale / step) * step).clip(-1.0, 1.0).rename("signal")


def sma_crossover(close: pd.Series, fast: int, slow: int) -> pd.Series:
    """Long while the fast mean is above the slow one, else flat (means of past closes only)."""
    f, s = close.rolling(fast).mean(), close.rolling(slow).mean()
    return pd.Series(np.where(s.isna(), np.nan, (f > s).astype(float)), index=close.index, name="signal")


@dataclass
class StrategyReport:
    runs: dict[str, BacktestResult]  # "strategy", "buy_and_hold", "sma_crossover"
    params: StrategyParams
    span: tuple[pd.Timestamp, pd.Timestamp]
    predictions: int  # bars with an out-of-sample probability

    def summary(self) -> dict:
        """Each run's metrics and how the strategy did against each baseline."""
        out = {name: run.metrics for name, run in self.runs.items()}
        strategy = self.runs["strategy"].metrics
        out["excess_return"] = {name: strategy["total_return"] - run.metrics["total_return"]
                                for name, run in self.runs.items() if name != "strategy"}
        return out

    def as_dict(self, points: int = 400) -> dict:
        """What is stored and served: params, span, each run's metrics and (thinned) equity."""
        return {"params": self.params.as_dict(), "span": list(self.span), "predictions": self.predictions,
                "excess_return": self.summary()["excess_return"],
                "runs": {name: {"metrics": run.metrics, "equity": curve_points(run.equity, points)} for name, run in self.runs.items()}}


def curve_points(curve: pd.Series, points: int = 400) -> list[list]:
    """At most `points` (time, value) pairs of a curve, evenly spaced, first and last kept."""
    at = np.unique(np.linspace(0, len(curve) - 1, min(points, len(curve))).round().astype(int))
    return [[curve.index[i], float(curve.iloc[i])] for i in at]


def strategy_backtest(candles: pd.DataFrame, probability: pd.Series, params: StrategyParams = StrategyParams(),
                      signals: pd.Series | None = None) -> StrategyReport:
    """The thresholded strategy (or the given `signals` over the same bars: another policy of
    the probability, e.g. the RL agent's) and both baselines on the bars from the first
    prediction on (the SMAs are computed on all earlier closes too, so they are warm at the start)."""
    probability = probability.reindex(candles.index)
    known = probability.notna().to_numpy()
    if not known.any():
        raise BacktestInputError("no out-of-sample probability falls on these candles")
    start = int(np.argmax(known))
    span = candles.iloc[start:]
    strategy = threshold_signals(probability, params) if signals is None else signals.reindex(candles.index)
    if params.sizing == "vol_target":
        strategy = vol_target(strategy, candles["close"], params.target_vol, bars_per_year(candles.index))
    legs = {
        "strategy": strategy.iloc[start:],
        "buy_and_hold": pd.Series(1.0, index=span.index),
        "sma_crossover": sma_crossover(candles["close"], params.sma_fast, params.sma_slow).iloc[start:],
    }
    runs = {name: run_backtest(span, s, **params.costs()) if s.notna().any() else None for name, s in legs.items()}
    runs = {name: run for name, run in runs.items() if run is not None}
    return StrategyReport(runs, params, (span.index[0], span.index[-1]), int(known.sum()))


def window_figures(result: BacktestResult, windows: list[tuple[pd.Timestamp, pd.Timestamp]]) -> list[dict]:
    """Return, drawdown and trades entered within each [start, end] window of one continuous
    (stitched) run: each window's equity starts where the previous one left off."""
    rows = []
    equity = result.equity
    for start, end in windows:
        inside = equity[(equity.index >= start) & (equity.index <= end)]
        if inside.empty:  # the series has no bar in this window (pooled series can start later)
            rows.append({"start": start, "end": end, "bars": 0, "total_return": None, "max_drawdown": None, "trades": 0, "win_rate": None})
            continue
        before = equity[equity.index < start]
        base = float(before.iloc[-1]) if len(before) else float(inside.iloc[0])
        curve = np.r_[base, inside.to_numpy()]
        entered = result.trades[(result.trades["entry_time"] >= start) & (result.trades["entry_time"] <= end)]
        rows.append({"start": start, "end": end, "bars": len(inside), "total_return": float(curve[-1] / base - 1),
                     "max_drawdown": max_drawdown(curve), "trades": len(entered),
                     "win_rate": float((entered["pnl"] > 0).mean()) if len(entered) else None})
    return rows
