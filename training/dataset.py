"""Training samples from features and labels: X, the binary target, and when each label is known."""

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Dataset:
    X: pd.DataFrame  # features; NaN kept where undefined (the models handle or impute it)
    y: np.ndarray  # 1 when the take-profit (or an up move at the horizon) won, else 0
    times: pd.DatetimeIndex  # the bar each sample is made at
    label_end: pd.DatetimeIndex  # when its label became known (used to purge)
    symbols: np.ndarray


def make_dataset(features: pd.DataFrame, labels: pd.DataFrame, timeframe: str, symbol: str) -> Dataset:
    """Samples of one series: rows with a label only (the unlabeled tail is never guessed)."""
    if not features.index.equals(labels.index):
        raise ValueError("features and labels must share the candles' index")
    if set(features.columns) & set(labels.columns):
        raise ValueError(f"label column(s) among the features: {sorted(set(features.columns) & set(labels.columns))}")
    keep = np.flatnonzero(labels["label"].notna().to_numpy())
    # The label is known at the close of its deciding bar: found by position, since
    # calendars have gaps (weekends, holidays) that bar arithmetic on time would miss.
    deciding = keep + labels["bars_to_hit"].to_numpy()[keep].astype(np.int64)
    known = features.index[deciding] + pd.Timedelta(timeframe)
    return Dataset(features.iloc[keep], (labels["label"].to_numpy()[keep] > 0).astype(np.int8), features.index[keep],
                   pd.DatetimeIndex(known), np.full(len(keep), symbol, dtype=object))


def pool(datasets: list[Dataset]) -> Dataset:
    """Several series as one time-ordered sample set (stable order within a timestamp)."""
    X = pd.concat([d.X for d in datasets])
    order = np.argsort(X.index.as_unit("ns").asi8, kind="stable")
    times = pd.DatetimeIndex(np.concatenate([d.times.as_unit("ns").asi8 for d in datasets])[order], tz="UTC")
    label_end = pd.DatetimeIndex(np.concatenate([d.label_end.as_unit("ns").asi8 for d in datasets])[order], tz="UTC")
    return Dataset(X.iloc[order], np.concatenate([d.y for d in datasets])[order], times, label_end,
                   np.concatenate([d.symbols for d in datasets])[order])
