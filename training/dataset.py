"""Training samples from features, labels and candles: what each layer sees, the binary
target, and when each label became known (for purging)."""

from dataclasses import dataclass

import numpy as np
import pandas as pd



@dataclass
class Dataset:
    X: pd.DataFrame  # features; NaN kept where undefined (the models handle or impute it)
    windows: np.ndarray  # (n, window, channels) float32: the deep layer's input
    y: np.ndarray  # 1 when the take-profit (or an up move at the horizon) won, else 0
    times: pd.DatetimeIndex  # the bar each sample is made at (known at its close)
    label_end: pd.DatetimeIndex  # when its label became known (used to purge)
    symbols: np.ndarray
    timeframes: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def take(self, idx: np.ndarray) -> "Dataset":
        return Dataset(self.X.iloc[idx], self.windows[idx], self.y[idx], self.times[idx], self.label_end[idx],
                       self.symbols[idx], self.timeframes[idx])


def make_dataset(features: pd.DataFrame, labels: pd.DataFrame, timeframe: str, symbol: str,
                 windows: np.ndarray | None = None) -> Dataset:
    """Samples of one series: rows with a label only (the unlabeled tail is never guessed).
    Without windows (training/inputs.py makes them) the deep layer cannot be trained."""
    if not features.index.equals(labels.index):
        raise ValueError("features and labels must share the candles' index")
    if set(features.columns) & set(labels.columns):
        raise ValueError(f"label column(s) among the features: {sorted(set(features.columns) & set(labels.columns))}")
    keep = np.flatnonzero(labels["label"].notna().to_numpy())
    # The label is known at the close of its deciding bar: found by position, since
    # calendars have gaps (weekends, holidays) that bar arithmetic on time would miss.
    deciding = keep + labels["bars_to_hit"].to_numpy()[keep].astype(np.int64)
    known = features.index[deciding] + pd.Timedelta(timeframe)
    wins = windows[keep] if windows is not None else np.zeros((len(keep), 0, 0), np.float32)
    return Dataset(features.iloc[keep], wins, (labels["label"].to_numpy()[keep] > 0).astype(np.int8), features.index[keep],
                   pd.DatetimeIndex(known), np.full(len(keep), symbol, dtype=object), np.full(len(keep), timeframe, dtype=object))


def _stamps(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("ns").asi8


def pool(datasets: list[Dataset]) -> Dataset:
    """Several series as one time-ordered sample set (stable order within a timestamp)."""
    if not datasets:
        raise ValueError("no series to pool")
    X = pd.concat([d.X for d in datasets])
    order = np.argsort(_stamps(X.index), kind="stable")
    times = pd.DatetimeIndex(np.concatenate([_stamps(d.times) for d in datasets])[order], tz="UTC")
    label_end = pd.DatetimeIndex(np.concatenate([_stamps(d.label_end) for d in datasets])[order], tz="UTC")
    return Dataset(X.iloc[order], np.concatenate([d.windows for d in datasets])[order], np.concatenate([d.y for d in datasets])[order],
                   times, label_end, np.concatenate([d.symbols for d in datasets])[order],
                   np.concatenate([d.timeframes for d in datasets])[order])
