"""Online learning: fold newly matured labels into the fused model without retraining it.

The base layers stay as they are; the stacker takes a warm-started step on the layers'
outputs for the samples whose labels matured since the model last learned (its
`trained_through` per series). Evaluation is prequential — each new sample is scored by
the model *before* it learns it (test, then train: the online form of walk-forward) —
and accumulates in the model's `online` history, so it survives restarts with the
model itself, in the registry.
"""

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from training.metrics import auc
from training.model import FusedModel

DEFAULT_MIN_NEW = 20


@dataclass
class OnlineUpdate:
    model: FusedModel  # a new object: the base model is never modified
    new_samples: int
    per_series: dict[str, int]
    batch_auc: float  # prequential, on this batch
    history_auc: float  # prequential, on every sample learned online since the full training
    history_samples: int
    window: str


def _new_samples(model: FusedModel, series) -> tuple[list[pd.DataFrame], list[np.ndarray], list[np.ndarray], dict[str, int], dict[str, str], list[pd.DatetimeIndex], list[str]]:
    Xs, Ws, ys, counts, through, times, keys = [], [], [], {}, {}, [], []
    for s in series:
        key = f"{s.symbol}:{s.timeframe}"
        last = pd.Timestamp(model.trained_through[key]) if key in model.trained_through else None
        labeled = s.labels["label"].notna().to_numpy()
        after = labeled & ((s.candles.index > last) if last is not None else np.ones(len(labeled), bool))
        if not after.any():
            continue
        X, windows = model.inputs(s.candles, s.timeframe, s.news)
        Xs.append(X[after])
        Ws.append(windows[after])
        ys.append((s.labels["label"].to_numpy()[after] > 0).astype(np.int8))
        counts[key] = int(after.sum())
        through[key] = s.candles.index[after].max().isoformat()
        times.append(s.candles.index[after])
        keys += [key] * int(after.sum())
    return Xs, Ws, ys, counts, through, times, keys


def update(model: FusedModel, series, min_new: int = DEFAULT_MIN_NEW) -> OnlineUpdate | str:
    """The updated model, or why there is nothing to do (fewer than `min_new` new labels)."""
    Xs, Ws, ys, counts, through, times, keys = _new_samples(model, series)
    n = sum(counts.values())
    if n < min_new:
        return f"{n} newly matured label(s) since the model last learned (< {min_new}): nothing to update"
    X, W, y = pd.concat(Xs), np.concatenate(Ws), np.concatenate(ys)
    P = model.layer_outputs(X, W)
    before = model.stacker.predict(P)  # prequential: scored before it is learned
    updated = copy.deepcopy(model)
    updated.stacker.update(P, y)
    updated.trained_through = {**model.trained_through, **through}
    stamps = pd.DatetimeIndex(np.concatenate([t.as_unit("ns").asi8 for t in times]), tz="UTC")
    batch = pd.DataFrame({"time": stamps, "series": keys, "y": y, "p": before, **{f"P_{k}": P[:, j] for j, k in enumerate(model.layer_names)}})
    updated.online = batch if model.online is None else pd.concat([model.online, batch], ignore_index=True)
    history = updated.online
    window = f"online {history['time'].min():%Y-%m-%dT%H:%M}..{history['time'].max():%Y-%m-%dT%H:%M} [{','.join(sorted(history['series'].unique()))}]"
    return OnlineUpdate(updated, n, counts, auc(y, before), auc(history["y"].to_numpy(), history["p"].to_numpy()), len(history), window)


def champion_auc_on(champion: FusedModel, history: pd.DataFrame) -> tuple[float, float, int]:
    """(champion AUC, prequential AUC, samples) on the online samples the champion never trained on.
    Valid when the champion has the same base layers (the online line is rebased on it)."""
    through = history["series"].map(lambda key: pd.Timestamp(champion.trained_through.get(key, "1677-09-22T00:00:00+00:00")))
    unseen = history[history["time"].to_numpy() > through.to_numpy()]
    if not len(unseen):
        return float("nan"), float("nan"), 0
    P = unseen[[f"P_{k}" for k in champion.layer_names]].to_numpy()
    y = unseen["y"].to_numpy()
    return auc(y, champion.stacker.predict(P)), auc(y, unseen["p"].to_numpy()), len(unseen)
