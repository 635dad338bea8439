"""The RL agent judged like every other strategy: trained walk-forward, backtested by the engine.

For each purged walk-forward fold (training/splits.py) over the bars that carry the fused
model's out-of-fold probability, an agent learns on the fold's training bars only (purged and
embargoed, features standardized on them); its greedy actions on the fold's test window are
the strategy's targets there. Per series, the windows' targets make one continuous (stitched)
run of `run_backtest` — the same engine, costs and next-open execution as the strategy and
walk-forward backtests — beside flat, buy-and-hold and the fused-threshold strategy
(trading/strategy.py) on the same bars. Pooled series are combined as an equal-weight
portfolio of their runs; its Sharpe is what the gate compares.

Training's agent arrives through `training.rl` (trading may import training; the reverse is
not allowed, so the engine's order step, `fill_order`, is handed to the environment here).
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trading.backtest import BacktestResult, bars_per_year, fill_order, run_backtest
from trading.risk import max_drawdown
from trading.strategy import StrategyParams, threshold_signals
from training.rl.agent import Policy, RlConfig, Scaler, market_of, rollout, train_policy
from training.rl.env import Book, Market, Segment
from training.splits import NotEnoughData, purged_walk_forward

STRATEGIES = ("rl", "flat", "buy_and_hold", "fused_threshold")
MIN_BARS = 60  # usable bars (with an out-of-fold probability) a series needs to take part


@dataclass(frozen=True)
class RlSeries:
    """One series for the agent: candles, its feature frame (same index) and the fused model's
    out-of-fold probability by bar time."""

    symbol: str
    timeframe: str
    candles: pd.DataFrame
    features: pd.DataFrame
    probability: pd.Series


@dataclass(eq=False)
class RlWalkForward:
    config: RlConfig
    windows: list[dict]  # per test window: start, end, and per strategy: return, sharpe, max_drawdown, turnover, trades
    series: dict[str, dict[str, BacktestResult]]  # "SYM:tf" -> strategy -> the stitched run
    portfolio: dict[str, pd.Series]  # strategy -> equal-weight equity (from 1.0) over the traded span
    metrics: dict[str, float]  # the stitched portfolio's figures, per strategy (`<strategy>_<figure>`)
    curves: list[list[tuple[int, float]]]  # per window: the agent's learning curve (timestep, mean episode reward)
    spans: list[tuple[pd.Timestamp, pd.Timestamp]]
    seconds: float = 0.0
    steps: int = 0  # environment steps trained in all (windows only; whole rollouts, so at least timesteps per window)
    notes: dict[str, str] = field(default_factory=dict)


def _usable(s: RlSeries) -> tuple[int, int]:
    """[first, last] bar positions with a probability (a series' traded span)."""
    known = np.flatnonzero(s.probability.reindex(s.candles.index).notna().to_numpy())
    return (int(known[0]), int(known[-1])) if len(known) else (0, -1)


def _runs(positions: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs [a, b] of sorted integer positions."""
    if not len(positions):
        return []
    cuts = np.flatnonzero(np.diff(positions) != 1)
    starts = np.r_[positions[0], positions[cuts + 1]]
    ends = np.r_[positions[cuts], positions[-1]]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def window_figures(equity: pd.Series, targets: pd.Series, trades: pd.DataFrame, spans, per_year: float) -> list[dict]:
    """Return, Sharpe (annualized, per-bar returns), max drawdown, turnover (sum of |target
    changes|) and trades entered, of one stitched run cut into windows."""
    rows = []
    previous = targets.shift(1).fillna(0.0)
    for start, end in spans:
        inside = (equity.index >= start) & (equity.index <= end)
        if not inside.any():
            rows.append({"return": None, "sharpe": None, "max_drawdown": None, "turnover": 0.0, "trades": 0})
            continue
        before = equity[equity.index < start]
        curve = np.r_[float(before.iloc[-1]) if len(before) else float(equity[inside].iloc[0]), equity[inside].to_numpy()]
        r = np.diff(curve) / curve[:-1]
        sd = r.std(ddof=1) if len(r) > 1 else 0.0
        entered = trades[(trades["entry_time"] >= start) & (trades["entry_time"] <= end)] if len(trades) else trades
        rows.append({"return": float(curve[-1] / curve[0] - 1), "sharpe": float(r.mean() / sd * np.sqrt(per_year)) if sd > 0 else None,
                     "max_drawdown": max_drawdown(curve), "turnover": float((targets[inside] - previous[inside]).abs().sum()),
                     "trades": int(len(entered))})
    return rows


def curve_figures(equity: pd.Series, per_year: float) -> dict[str, float | None]:
    """Total return, Sharpe, its t-statistic (mean per-bar return over its standard error) and
    max drawdown of an equity curve (starting at its first value)."""
    values = equity.to_numpy()
    r = np.diff(values) / values[:-1]
    sd = r.std(ddof=1) if len(r) > 1 else 0.0
    return {"return": float(values[-1] / values[0] - 1), "sharpe": float(r.mean() / sd * np.sqrt(per_year)) if sd > 0 else None,
            "sharpe_tstat": float(r.mean() / sd * np.sqrt(len(r))) if sd > 0 else None, "max_drawdown": max_drawdown(values)}


def portfolio(curves: list[pd.Series]) -> pd.Series:
    """Equal-weight portfolio of equity curves: each from 1.0, aligned on the union of their
    bars (a curve holds its last value between its own bars, 1.0 before its first)."""
    grown = pd.concat([c / c.iloc[0] for c in curves], axis=1).sort_index().ffill().fillna(1.0)
    return grown.mean(axis=1).rename("equity")


def rl_walk_forward(series: list[RlSeries], config: RlConfig = RlConfig(), thresholds: tuple[float, float] = (0.55, 0.45),
                    progress=None) -> tuple[RlWalkForward, list[Market], list[Segment], dict]:
    """Train and test the agent walk-forward over `series`; also returns what the final
    policy trains on (markets' raw frames are rebuilt with its scaler by `final_policy`)."""
    say = progress or (lambda *_: None)
    spans_by: list[tuple[int, int]] = []
    kept = []
    for s in series:
        lo, hi = _usable(s)
        if hi - lo + 1 >= MIN_BARS:
            kept.append(s)
            spans_by.append((lo, hi))
    if not kept:
        raise NotEnoughData(f"no series has {MIN_BARS}+ bars with an out-of-fold fused probability: train the fused model on more data")
    # samples: one per usable bar; its "label" (the reward) is known at the next bar
    times, label_end, owner, pos = [], [], [], []
    for k, (s, (lo, hi)) in enumerate(zip(kept, spans_by, strict=True)):
        index = s.candles.index
        times.append(index[lo:hi])
        label_end.append(index[lo + 1:hi + 1])
        owner.append(np.full(hi - lo, k))
        pos.append(np.arange(lo, hi))
    t_all = pd.DatetimeIndex(np.concatenate([t.as_unit("ns").asi8 for t in times])).tz_localize("UTC")
    end_all = pd.DatetimeIndex(np.concatenate([t.as_unit("ns").asi8 for t in label_end])).tz_localize("UTC")
    owner_all, pos_all = np.concatenate(owner), np.concatenate(pos)
    step = max(pd.Timedelta(s.timeframe) for s in kept)
    folds = purged_walk_forward(t_all, end_all, config.n_splits, config.embargo_bars * step, config.min_train_fraction)
    if not folds:
        raise NotEnoughData("no walk-forward fold has training bars")

    targets = [pd.Series(np.nan, index=s.candles.index) for s in kept]
    books = [Book() for _ in kept]
    spans, curves, seconds, steps = [], [], 0.0, 0
    for f, fold in enumerate(folds):
        segments = [Segment(int(owner_all[a]), int(pos_all[a]), int(pos_all[b]) + 1)
                    for a, b in _index_runs(fold.train, owner_all, pos_all)]
        scaler = _scaler(kept, segments, config)
        markets = [_market(s, scaler) for s in kept]
        say(f"rl window {f + 1}/{len(folds)}: training {config.algorithm} for {config.timesteps} steps on {sum(g.end - g.start for g in segments)} bars")
        policy = train_policy(markets, segments, scaler, config, fill_order)
        curves.append(policy.curve)
        seconds += policy.seconds
        steps += policy.steps
        spans.append((fold.test_start, fold.test_end))
        for a, b in _index_runs(fold.test, owner_all, pos_all):
            k, start, last = int(owner_all[a]), int(pos_all[a]), int(pos_all[b])
            n = len(kept[k].candles)
            stop = min(last + 1, n - 1)  # decisions at start..last, each filled at the next open
            acts, books[k] = rollout(policy, markets[k], start, stop, fill_order, books[k])
            targets[k].iloc[start:stop] = acts

    runs: dict[str, dict[str, BacktestResult]] = {}
    per_strategy: dict[str, list[pd.Series]] = {name: [] for name in STRATEGIES}
    windows = [{"window": i, "start": a, "end": b} for i, (a, b) in enumerate(spans)]
    params = StrategyParams(buy_threshold=thresholds[0], sell_threshold=thresholds[1], fee=config.fee, slippage=config.slippage)
    for s, target in zip(kept, targets, strict=True):
        traded = target.notna().to_numpy()
        first, last = int(np.argmax(traded)), len(traded) - 1 - int(np.argmax(traded[::-1]))
        last = min(last + 1, len(target) - 1)  # the bar where the last decision fills
        span = s.candles.iloc[first:last + 1]
        signals = {"rl": target.iloc[first:last + 1].fillna(0.0), "flat": pd.Series(0.0, index=span.index),
                   "buy_and_hold": pd.Series(1.0, index=span.index),
                   "fused_threshold": threshold_signals(s.probability.reindex(span.index), params).fillna(0.0)}
        key = f"{s.symbol}:{s.timeframe}"
        runs[key] = {name: run_backtest(span, sig, fee=config.fee, slippage=config.slippage, init_cash=1.0) for name, sig in signals.items()}
        per_year = bars_per_year(span.index)
        for name, result in runs[key].items():
            per_strategy[name].append(result.equity)
            for w, row in zip(windows, window_figures(result.equity, signals[name], result.trades, spans, per_year), strict=True):
                w.setdefault(name, []).append(row)
    per_year = float(np.mean([bars_per_year(s.candles.index) for s in kept]))
    pooled = {name: portfolio(curves_) for name, curves_ in per_strategy.items()}
    metrics: dict[str, float] = {}
    for name, curve in pooled.items():
        for figure, value in curve_figures(curve, per_year).items():
            metrics[f"{name}_{figure}"] = value
        metrics[f"{name}_trades"] = float(sum(len(runs[k][name].trades) for k in runs))
    for w in windows:  # pooled window rows: the mean over series
        for name in STRATEGIES:
            rows = w.pop(name)
            w[name] = {fig: _mean([r[fig] for r in rows]) for fig in rows[0]}
    result = RlWalkForward(config, windows, runs, pooled, metrics, curves, spans, seconds, steps)
    all_segments = [Segment(k, lo, hi) for k, (lo, hi) in enumerate(spans_by)]
    return result, kept, all_segments, {"series": [f"{s.symbol}:{s.timeframe}" for s in kept],
                                        "start": min(s.candles.index[lo] for s, (lo, _) in zip(kept, spans_by, strict=True)).isoformat(),
                                        "end": max(s.candles.index[hi] for s, (_, hi) in zip(kept, spans_by, strict=True)).isoformat()}


def final_policy(kept: list[RlSeries], segments: list[Segment], config: RlConfig, trained_on: dict) -> Policy:
    """The policy to serve: trained on every usable bar, its scaler fitted on them."""
    scaler = _scaler(kept, segments, config)
    return train_policy([_market(s, scaler) for s in kept], segments, scaler, config, fill_order, trained_on)


def policy_signals(policy: Policy, symbol: str, timeframe: str, candles: pd.DataFrame, features: pd.DataFrame,
                   probability: pd.Series) -> pd.Series:
    """The policy's greedy target positions over `candles` (a backtest's signals): from the
    first bar with a probability, each decided on its bar's close from what was known then,
    starting flat; NaN before (the last bar repeats the last decision: nothing fills after it)."""
    market = policy.market(symbol, timeframe, candles, features, probability)
    known = np.flatnonzero(np.isfinite(market.probability))
    out = pd.Series(np.nan, index=candles.index, name="signal")
    if not len(known) or known[0] >= len(candles) - 1:
        return out
    start = int(known[0])
    targets, _ = rollout(policy, market, start, len(candles) - 1, fill_order)
    out.iloc[start:-1] = targets
    out.iloc[-1] = targets[-1]
    return out


def _scaler(kept: list[RlSeries], segments: list[Segment], config: RlConfig) -> Scaler:
    """Standardization (features and the probability's spread) fitted on the segments' bars only."""
    return Scaler.fit([kept[g.series].features.iloc[g.start:g.end + 1] for g in segments], config.features,
                      [kept[g.series].probability.reindex(kept[g.series].candles.index).iloc[g.start:g.end + 1] for g in segments])


def _market(s: RlSeries, scaler: Scaler) -> Market:
    return market_of(scaler, s.symbol, s.timeframe, s.candles, s.features, s.probability)


def _index_runs(rows: np.ndarray, owner: np.ndarray, pos: np.ndarray) -> list[tuple[int, int]]:
    """Runs [a, b] of sample rows that are consecutive bars of one series."""
    rows = np.sort(rows)
    out = []
    for k in np.unique(owner[rows]):
        mine = rows[owner[rows] == k]
        order = mine[np.argsort(pos[mine])]
        for a, b in _runs(pos[order]):
            out.append((int(order[pos[order] == a][0]), int(order[pos[order] == b][0])))
    return out


def _mean(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def gate_figures(result: RlWalkForward) -> tuple[float | None, float | None]:
    """(the agent's stitched out-of-sample Sharpe, the fused-threshold strategy's) — the gate's inputs."""
    return result.metrics.get("rl_sharpe"), result.metrics.get("fused_threshold_sharpe")
