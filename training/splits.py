"""Purged walk-forward splits with an embargo, for time-ordered (and pooled multi-symbol) samples.

Fold k tests on the k-th of `n_splits` consecutive time blocks after an initial training
block, and trains only on samples that are fully in the past of that block:

- walk-forward: training samples are earlier than the test block (never shuffled K-fold);
- purge: a training sample whose label was still unknown when the test block starts (its
  `label_end` >= test start) is dropped — its outcome overlaps the test window;
- embargo: training samples in the `embargo` just before the test block are dropped too,
  against leakage through serial correlation of the features.

Times may repeat (several symbols at one timestamp): blocks are cut on distinct times, so
pooled symbols never leak across time.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd


class NotEnoughData(ValueError):
    """Too few samples (or distinct times) for the requested evaluation."""


@dataclass(frozen=True)
class Fold:
    train: np.ndarray  # positions into the samples
    test: np.ndarray
    test_start: pd.Timestamp
    test_end: pd.Timestamp


def purged_walk_forward(
    times: pd.DatetimeIndex,
    label_end: pd.DatetimeIndex,
    n_splits: int = 5,
    embargo: pd.Timedelta = pd.Timedelta(0),
    min_train_fraction: float = 0.3,
    train_window: pd.Timedelta | None = None,
) -> list[Fold]:
    """Folds over samples at `times` whose labels are known at `label_end` (>= times).
    `train_window`: train only on samples within that span before the test block (rolling
    windows); None trains on the whole past (expanding)."""
    if len(times) != len(label_end):
        raise ValueError("times and label_end must have one entry per sample")
    if n_splits < 1 or not 0 < min_train_fraction < 1:
        raise ValueError("n_splits >= 1 and 0 < min_train_fraction < 1 are required")
    t = times.as_unit("ns").asi8
    end = label_end.as_unit("ns").asi8
    if (end < t).any():
        raise ValueError("a label cannot be known before its sample")
    distinct = np.unique(t)
    if len(distinct) < n_splits + 1:
        raise NotEnoughData(f"{len(distinct)} distinct times cannot make {n_splits} folds")
    first_test = int(len(distinct) * min_train_fraction)
    if len(distinct) - first_test < n_splits:
        raise NotEnoughData(f"{len(distinct) - first_test} distinct test times cannot make {n_splits} folds")
    edges = np.linspace(first_test, len(distinct), n_splits + 1).astype(int)
    folds = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        start = distinct[lo]
        stop = distinct[hi] if hi < len(distinct) else np.iinfo(np.int64).max
        test = np.flatnonzero((t >= start) & (t < stop))
        oldest = start - train_window.value if train_window is not None else np.iinfo(np.int64).min
        train = np.flatnonzero((t < start - embargo.value) & (end < start) & (t >= oldest))
        if len(train) and len(test):
            folds.append(Fold(train, test, pd.Timestamp(start, tz="UTC"), pd.Timestamp(t[test].max(), tz="UTC")))
    return folds
