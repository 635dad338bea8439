"""Online learning: fold newly matured labels into the fused model without retraining it.

The base layers stay as they are; the stacker takes a warm-started step on the layers'
outputs for the samples whose labels matured since the model last learned (its
`trained_through` per series). Evaluation is prequential — each new sample made after
the model's knowledge cutoff is scored by the model *before* it learns it (test, then
train: the online form of walk-forward) — and accumulates, with the version that scored
it, in the model's `online` history: it survives restarts with the model, in the registry.

The step weighs recent samples more (`Stacker.update`'s recency weight, halving every
`half_life` samples back): after a change in how the layers' outputs relate to the label
the line follows within about one half-life instead of dragging the whole past along.
"""

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.dataset import make_dataset, pool
from training.metrics import auc
from training.model import FusedModel

DEFAULT_MIN_NEW = 20
DEFAULT_HALF_LIFE = 500  # samples (TX_ONLINE_HALF_LIFE): about 50 trading days of a 10-series daily universe
CURVE_POINTS = 100  # at most this many points of the prequential AUC curve per run (two AUCs each)
RECENT = 200  # samples behind each point of the recent prequential AUC


@dataclass
class OnlineUpdate:
    model: FusedModel  # a new object: the base model is never modified
    new_samples: int
    per_series: dict[str, int]
    batch_auc: float  # prequential, on this batch's samples after the base's knowledge cutoff
    history_auc: float  # prequential, on every sample scored online in this line
    history_samples: int
    window: str
    half_life: int


def _matured(model: FusedModel, s) -> int:
    """Labels of series `s` matured after the model's `trained_through` for it: counted on the
    labels alone, before any feature is computed."""
    labeled = s.labels.index[s.labels["label"].notna()]
    since = model.trained_through.get(f"{s.symbol}:{s.timeframe}")
    return int((labeled > pd.Timestamp(since)).sum()) if since else len(labeled)


def _new_samples(model: FusedModel, series):
    """Matured samples of each series made after the model's `trained_through` for it."""
    parts, counts, through = [], {}, {}
    for s in series:
        key = f"{s.symbol}:{s.timeframe}"
        if not _matured(model, s):  # the model's inputs (every feature of the series) only where there is something to learn
            continue
        X, windows = model.inputs(s.candles, s.timeframe, s.news)
        data = make_dataset(X, s.labels, s.timeframe, s.symbol, windows)
        if key in model.trained_through:
            data = data.take(np.flatnonzero(data.times > pd.Timestamp(model.trained_through[key])))
        if len(data):
            parts.append(data)
            counts[key] = len(data)
            through[key] = data.times.max().isoformat()
    return (pool(parts) if parts else None), counts, through


def update(model: FusedModel, series, version: str, min_new: int = DEFAULT_MIN_NEW,
           half_life: int = DEFAULT_HALF_LIFE) -> OnlineUpdate | str:
    """The model (registered as `version`) after learning the new labels, recent samples
    weighing more (`half_life` samples; 0: all alike), or why there is nothing to do (fewer
    than `min_new` newly matured labels)."""
    matured = sum(_matured(model, s) for s in series)
    if matured < min_new:  # said before the costly inputs are computed: the schedule asks every few minutes
        return f"{matured} newly matured label(s) since the model last learned (< {min_new}): nothing to update"
    data, counts, through = _new_samples(model, series)
    n = sum(counts.values())
    P = model.layer_outputs(data.X, data.windows)
    before = model.stacker.predict(P)
    unseen = (data.times > pd.Timestamp(model.knowledge_cutoff)) if model.knowledge_cutoff else np.ones(len(data), bool)
    updated = copy.deepcopy(model)
    updated.stacker.update(P, data.y, half_life)
    updated.trained_through = {**model.trained_through, **through}
    updated.knowledge_cutoff = max(filter(None, [model.knowledge_cutoff, data.label_end.max().isoformat()]))
    series_keys = data.symbols.astype(str) + ":" + data.timeframes.astype(str)
    batch = pd.DataFrame({"time": data.times, "series": series_keys, "y": data.y, "p": before, "scored_by": version,
                          **{f"P_{k}": P[:, j] for j, k in enumerate(model.layer_names)}})[unseen]
    updated.online = batch if model.online is None else pd.concat([model.online, batch], ignore_index=True)
    history = updated.online
    if history.empty:
        window = "online: nothing scored yet"
    else:
        window = (f"online {history['time'].min():%Y-%m-%dT%H:%M}..{history['time'].max():%Y-%m-%dT%H:%M} "
                  f"[{','.join(sorted(history['series'].unique()))}]")
    return OnlineUpdate(updated, n, counts, auc(batch["y"].to_numpy(), batch["p"].to_numpy()) if len(batch) else float("nan"),
                        auc(history["y"].to_numpy(), history["p"].to_numpy()) if len(history) else float("nan"), len(history), window,
                        half_life)


def prequential_curve(history: pd.DataFrame | None, points: int = CURVE_POINTS, recent: int = RECENT) -> pd.DataFrame:
    """The line's prequential AUC as it grew: at up to `points` evenly spaced counts of
    samples scored (in the order they were learned), the AUC of all of them so far
    (`auc`) and of the last `recent` (`recent_auc`: a change shows there first), with the
    time of the last sample counted. NaN where one class only."""
    columns = ["samples", "time", "auc", "recent_auc"]
    if history is None or history.empty:
        return pd.DataFrame(columns=columns)
    y, p, times = history["y"].to_numpy(), history["p"].to_numpy(), pd.DatetimeIndex(history["time"])
    n = len(y)
    step = max(1, -(-n // points))
    counts = np.unique(np.append(np.arange(step, n + 1, step), n))
    rows = [(k, times[k - 1], auc(y[:k], p[:k]), auc(y[max(0, k - recent):k], p[max(0, k - recent):k])) for k in counts]
    return pd.DataFrame(rows, columns=columns)


def champion_auc_on(champion: FusedModel, champion_version: str, history: pd.DataFrame | None) -> tuple[float, float, int]:
    """(champion AUC, prequential AUC, samples) on the online samples made after the champion's
    knowledge cutoff and scored by another version than the champion (else it would be
    compared with itself). Valid when the champion has the same base layers as the line."""
    if history is None or history.empty:
        return float("nan"), float("nan"), 0
    after = history["time"] > pd.Timestamp(champion.knowledge_cutoff) if champion.knowledge_cutoff else history["time"].notna()
    rows = history[after & (history["scored_by"] != champion_version)]
    if rows.empty:
        return float("nan"), float("nan"), 0
    P = rows[[f"P_{k}" for k in champion.layer_names]].to_numpy()
    y = rows["y"].to_numpy()
    return auc(y, champion.stacker.predict(P)), auc(y, rows["p"].to_numpy()), len(rows)
