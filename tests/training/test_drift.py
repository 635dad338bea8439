"""Data drift: the same distribution drifts nowhere, a shifted one is named, and the windows
are the model's own past against the latest bars."""

import numpy as np
import pandas as pd
import pytest

from training.drift import data_drift, split_windows


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"ret": rng.normal(shift, 1, n), "vol": rng.gamma(2, 1 + shift, n), "rsi": rng.uniform(0, 100, n),
                         "flag": 1.0, "gap": np.where(rng.random(n) < 0.5, np.nan, rng.normal(size=n))})


def test_same_distribution_does_not_drift_and_a_shift_is_named():
    same = data_drift(_frame(500, 0), _frame(150, 1))
    assert same.share <= 0.25 and set(same.columns["column"]) == {"ret", "vol", "rsi", "gap"}  # a constant is not compared
    shifted = data_drift(_frame(500, 0), _frame(150, 2, shift=1.5))
    assert {"ret", "vol"} <= set(shifted.drifted) and shifted.share >= 0.5
    assert "<html" in shifted.html.lower() and shifted.reference_rows == 500 and shifted.current_rows == 150
    with pytest.raises(ValueError, match="no feature column"):
        data_drift(_frame(500, 0)[["flag"]], _frame(150, 1)[["flag"]])


def test_windows_are_the_models_past_and_the_latest_bars():
    index = pd.date_range("2020-01-01", periods=1000, freq="D", tz="UTC")
    features = pd.DataFrame({"x": np.arange(1000.0)}, index=index)
    reference, current = split_windows(features, index[799], reference_bars=300, current_bars=100)
    assert reference.index[-1] == index[799] and len(reference) == 300 and current.index[0] == index[900]
    reference, current = split_windows(features, None, reference_bars=300, current_bars=100)  # no cutoff: before the latest bars
    assert reference.index[-1] == index[899]
