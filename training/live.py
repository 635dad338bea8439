"""Live performance: served predictions judged against the labels that matured after them.

A prediction made at bar t is judged by the same triple-barrier label the model was
trained on (take-profit first = 1); until that label matures it is only counted as
pending. Nothing here is a backtest: only predictions really served are scored.
"""

from collections.abc import Callable

import numpy as np
import pandas as pd

from features import LabelSpec, triple_barrier
from training.metrics import auc

BINS = np.linspace(0.0, 1.0, 11)


def judged(predictions: pd.DataFrame, labels: dict[tuple[str, str], pd.DataFrame]) -> pd.DataFrame:
    """The predictions, in their order, with their outcome `y` (1 take-profit first, 0 otherwise; NaN pending)."""
    y = pd.Series(np.nan, index=predictions.index)
    for (symbol, timeframe), rows in predictions.groupby(["symbol", "timeframe"], sort=False):
        frame = labels.get((symbol, timeframe))
        if frame is not None:
            label = frame["label"].reindex(pd.DatetimeIndex(rows["ts"])).to_numpy()
            y[rows.index] = np.where(np.isnan(label), np.nan, (label == 1).astype(float))
    return predictions.assign(y=y)


def judged_by_labels(rows: pd.DataFrame, label_config: dict, candles_of: Callable[[str, str], pd.DataFrame]) -> pd.DataFrame:
    """`rows` (symbol, timeframe, ts) with `y`: the label each bar matured to under the
    model's label settings, from each series' candles (NaN while pending)."""
    spec = LabelSpec.from_dict(label_config)
    labels = {(s, tf): triple_barrier(candles_of(s, tf), spec)
              for s, tf in rows[["symbol", "timeframe"]].drop_duplicates().itertuples(index=False)}
    return judged(rows, labels)


def _figures(rows: pd.DataFrame) -> dict:
    y, p = rows["y"].to_numpy(), rows["probability"].to_numpy()
    called = rows["direction"] != "neutral"
    right = ((p >= 0.5) == (y == 1))[called.to_numpy()]
    return {"matured": len(rows), "auc": None if np.isnan(a := auc(y, p)) else round(a, 4),
            "hit_rate": round(float(right.mean()), 4) if len(right) else None, "directional_calls": int(called.sum()),
            "brier": round(float(np.mean((p - y) ** 2)), 4) if len(rows) else None,
            "mean_probability": round(float(p.mean()), 4) if len(rows) else None,
            "observed_rate": round(float(y.mean()), 4) if len(rows) else None}


def performance(judged_rows: pd.DataFrame, period: str = "M") -> dict:
    """AUC, hit rate, Brier and calibration overall, per period of the prediction bar and per version."""
    matured = judged_rows[judged_rows["y"].notna()]
    out = {"predictions": len(judged_rows), "pending": int(judged_rows["y"].isna().sum()), **_figures(matured)}
    bins = pd.cut(matured["probability"], BINS, include_lowest=True)
    out["calibration"] = [{"bin": f"{iv.left:.1f}-{iv.right:.1f}", "count": len(g), "mean_probability": round(float(g["probability"].mean()), 4),
                           "observed_rate": round(float(g["y"].mean()), 4)} for iv, g in matured.groupby(bins, observed=True)]
    stamps = matured["ts"].dt.tz_localize(None) if len(matured) else matured["ts"]
    out["over_time"] = [{"period": str(k), **_figures(g)} for k, g in matured.groupby(stamps.dt.to_period(period))] if len(matured) else []
    out["by_version"] = {str(v): _figures(g) for v, g in matured.groupby("model_version")}
    return out
