"""Walk-forward figures: each series traded on its out-of-fold probabilities as one stitched
run, cut into the windows of the folds that had a stacker, each with its own AUC."""

import numpy as np
import pandas as pd
import pytest

from market.synthetic import generate_many
from trading.strategy import StrategyParams, strategy_backtest, window_figures
from trading.walkforward import traded_folds, walk_forward
from training.fit import series_probability
from training.metrics import auc


@pytest.fixture(scope="module")
def trained():
    """Candles of three series and out-of-fold rows like training's: fold 0 has no stacker
    (fused NaN), folds 1 and 2 do; Z has no out-of-fold row at all."""
    candles = generate_many(["X", "Y", "Z"], "1d", 600, seed=5)
    rng = np.random.default_rng(3)
    bounds = [(0, 200), (200, 400), (400, 600)]
    rows, folds = [], []
    for k, (a, b) in enumerate(bounds):
        index = candles["X"].index[a:b]
        for symbol in ("X", "Y"):
            y = rng.integers(0, 2, b - a)
            fused = np.full(b - a, np.nan) if k == 0 else np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, b - a), 0, 1)
            rows.append(pd.DataFrame({"symbol": symbol, "timeframe": "1d", "time": index, "fold": k, "y": y, "fused": fused}))
        folds.append({"fold": k, "test_start": index[0].isoformat(), "test_end": index[-1].isoformat(), "n_train": a, "n_test": 2 * (b - a),
                      "auc_fused": float("nan") if k == 0 else 0.7})
    oof = pd.concat(rows, ignore_index=True)
    oof.loc[(oof["symbol"] == "Y") & (oof["fold"] == 2), "y"] = 1  # one class only in this window: no AUC
    return candles, oof, folds


def test_only_the_folds_with_a_stacker_are_traded(trained):
    _, _, folds = trained
    assert [f["fold"] for f in traded_folds(folds)] == [1, 2]


def test_each_series_is_traded_stitched_and_cut_into_the_traded_windows(trained):
    candles, oof, folds = trained
    params = StrategyParams(fee=0.001)
    wf = walk_forward(folds, oof, [(s, "1d", candles[s]) for s in ("X", "Y", "Z")], params, probability=series_probability, auc=auc)
    assert [f["fold"] for f in wf.folds] == [1, 2]
    assert wf.spans == [(candles["X"].index[200], candles["X"].index[399]), (candles["X"].index[400], candles["X"].index[599])]
    assert [s.symbol for s in wf.series] == ["X", "Y"]  # Z has no out-of-sample probability: left out
    for s in wf.series:
        expected = series_probability(oof, s.symbol, "1d")
        assert s.probability.equals(expected) and s.probability.index[0] == candles["X"].index[200]
        report = strategy_backtest(candles[s.symbol], expected, params)
        assert s.report.runs["strategy"].equity.equals(report.runs["strategy"].equity)
        plain = window_figures(report.runs["strategy"], wf.spans)
        assert [{k: v for k, v in w.items() if k not in ("fold", "auc")} for w in s.windows] == plain
        assert [w["fold"] for w in s.windows] == [1, 2]
    x = wf.series[0]
    for w in x.windows:
        part = oof[(oof["symbol"] == "X") & (oof["fold"] == w["fold"])]
        assert w["auc"] == pytest.approx(auc(part["y"].to_numpy(), part["fused"].to_numpy()))
    assert wf.series[1].windows[0]["auc"] is not None and wf.series[1].windows[1]["auc"] is None  # one class: no AUC, never a fake one
