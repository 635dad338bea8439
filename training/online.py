"""Online learning: fold newly matured labels into the fused model without retraining it.

The base layers stay as they are; the stacker takes a warm-started step on the layers'
outputs for the samples whose labels matured since the model last learned (its
`trained_through` per series). Evaluation is prequential — each new sample made after
the model's knowledge cutoff is scored by the model *before* it learns it (test, then
train: the online form of walk-forward) — and accumulates, with the version that scored
it, in the model's `online` history: it survives restarts with the model, in the registry.
"""

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.dataset import make_dataset, pool
from training.metrics import auc
from training.model import FusedModel

DEFAULT_MIN_NEW = 20


@dataclass
class OnlineUpdate:
    model: FusedModel  # a new object: the base model is never modified
    new_samples: int
    per_series: dict[str, int]
    batch_auc: float  # prequential, on this batch's samples after the base's knowledge cutoff
    history_auc: float  # prequential, on every sample scored online in this line
    history_samples: int
    window: str


def _new_samples(model: FusedModel, series):
    """Matured samples of each series made after the model's `trained_through` for it."""
    parts, counts, through = [], {}, {}
    for s in series:
        key = f"{s.symbol}:{s.timeframe}"
        X, windows = model.inputs(s.candles, s.timeframe, s.news)
        data = make_dataset(X, s.labels, s.timeframe, s.symbol, windows)
        if key in model.trained_through:
            data = data.take(np.flatnonzero(data.times > pd.Timestamp(model.trained_through[key])))
        if len(data):
            parts.append(data)
            counts[key] = len(data)
            through[key] = data.times.max().isoformat()
    return (pool(parts) if parts else None), counts, through


def update(model: FusedModel, series, version: str, min_new: int = DEFAULT_MIN_NEW) -> OnlineUpdate | str:
    """The model (registered as `version`) after learning the new labels, or why there is
    nothing to do (fewer than `min_new` newly matured labels)."""
    data, counts, through = _new_samples(model, series)
    n = sum(counts.values())
    if data is None or n < min_new:
        return f"{n} newly matured label(s) since the model last learned (< {min_new}): nothing to update"
    P = model.layer_outputs(data.X, data.windows)
    before = model.stacker.predict(P)
    unseen = (data.times > pd.Timestamp(model.knowledge_cutoff)) if model.knowledge_cutoff else np.ones(len(data), bool)
    updated = copy.deepcopy(model)
    updated.stacker.update(P, data.y)
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
                        auc(history["y"].to_numpy(), history["p"].to_numpy()) if len(history) else float("nan"), len(history), window)


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
