"""Walk-forward figures: the strategy traded on each window's out-of-sample probabilities.

Training (`training/`, purged and embargoed) yields folds and out-of-fold predictions; here
each series' probabilities go through the strategy as one continuous (stitched) run, and
each traded window gets its own return, drawdown, trades and AUC. The first fold has no
stacker yet, so only the folds with a fused AUC are traded. Training's figures arrive as
plain values (trading does not import training): the folds as dicts, the out-of-fold rows
as a frame, and the two functions that read them (`probability`, `auc`).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trading.strategy import StrategyParams, StrategyReport, strategy_backtest, window_figures

Span = tuple[pd.Timestamp, pd.Timestamp]


@dataclass(frozen=True, eq=False)
class SeriesWalkForward:
    symbol: str
    timeframe: str
    report: StrategyReport  # the stitched run and its baselines
    probability: pd.Series  # the out-of-sample probabilities traded, by bar time
    windows: list[dict]  # per traded window: window_figures' row, its fold and the series' AUC in it (None: one class only)


@dataclass(frozen=True, eq=False)
class WalkForward:
    folds: list[dict]  # the traded folds (fold, test_start, test_end, n_train, n_test, auc_fused)
    spans: list[Span]  # each traded fold's test window
    series: list[SeriesWalkForward]  # the series with out-of-sample probabilities, in the order given


def traded_folds(folds: list[dict]) -> list[dict]:
    """The folds with a stacker (a fused AUC): the first one has none."""
    return [f for f in folds if pd.notna(f["auc_fused"])]


def walk_forward(folds: list[dict], oof: pd.DataFrame, series: Iterable[tuple[str, str, pd.DataFrame]], params: StrategyParams, *,
                 probability: Callable[[pd.DataFrame, str, str], pd.Series],
                 auc: Callable[[np.ndarray, np.ndarray], float]) -> WalkForward:
    """Trade every (symbol, timeframe, candles) series on its out-of-fold probabilities
    (`probability(oof, symbol, timeframe)`; a series without any is left out) and cut the
    stitched run into the traded folds' windows, each with the AUC of that series' out-of-fold
    rows (columns symbol, timeframe, fold, y, fused) in it."""
    traded = traded_folds(folds)
    spans = [(pd.Timestamp(f["test_start"]), pd.Timestamp(f["test_end"])) for f in traded]
    done = []
    for symbol, timeframe, candles in series:
        p = probability(oof, symbol, timeframe)
        if p.empty:
            continue
        report = strategy_backtest(candles, p, params)
        windows = window_figures(report.runs["strategy"], spans)
        rows = oof[(oof["symbol"] == symbol) & (oof["timeframe"] == timeframe)]
        for fold, w in zip(traded, windows, strict=True):
            part = rows[rows["fold"] == fold["fold"]]
            w |= {"fold": fold["fold"], "auc": auc(part["y"].to_numpy(), part["fused"].to_numpy()) if part["y"].nunique() == 2 else None}
        done.append(SeriesWalkForward(symbol, timeframe, report, p, windows))
    return WalkForward(traded, spans, done)
