"""Triple-barrier labels against a plain loop over bars (the reference), and by hand."""

import numpy as np
import pandas as pd
import pytest

from features.labels import LabelSpec, spec_config, triple_barrier, with_spec
from market.synthetic import generate


def reference(candles, horizon, tp, sl):
    """The obvious per-bar loop, percentage barriers, stop-loss first on a tie."""
    h, lo, c = candles["high"].to_numpy(), candles["low"].to_numpy(), candles["close"].to_numpy()
    rows = []
    for t in range(len(c) - horizon):
        up, dn = c[t] * (1 + tp), c[t] * (1 - sl)
        label, barrier, bars, realized = None, 0, horizon, c[t + horizon] / c[t] - 1
        for k in range(1, horizon + 1):
            if lo[t + k] <= dn:
                label, barrier, bars, realized = -1, -1, k, -sl
                break
            if h[t + k] >= up:
                label, barrier, bars, realized = 1, 1, k, tp
                break
        if label is None:
            label = np.sign(c[t + horizon] / c[t] - 1)
        rows.append((label, barrier, bars, realized))
    return np.array(rows, dtype=float)


@pytest.mark.parametrize(("horizon", "tp", "sl"), [(1, 0.01, 0.01), (5, 0.02, 0.01), (20, 0.05, 0.08)])
def test_vectorized_labels_equal_the_loop(horizon, tp, sl):
    candles = generate("LBL", "1d", 1500, seed=horizon)
    got = triple_barrier(candles, LabelSpec(horizon=horizon, take_profit=tp, stop_loss=sl, mode="pct"))
    want = reference(candles, horizon, tp, sl)
    m = len(candles) - horizon
    np.testing.assert_array_equal(got[["label", "barrier", "bars_to_hit"]].to_numpy()[:m], want[:, :3])
    np.testing.assert_allclose(got["realized_return"].to_numpy()[:m], want[:, 3], rtol=1e-12)
    assert got.iloc[m:].isna().all().all()  # the last `horizon` bars are never guessed


def test_by_hand():
    idx = pd.date_range("2024-01-01", periods=6, freq="1D", tz="UTC")
    candles = pd.DataFrame(
        {"open": 100.0, "close": [100, 100, 100, 100, 100, 100.0], "high": [100, 101, 103, 100, 100, 100.0],
         "low": [100, 99.5, 97, 100, 100, 100.0], "volume": 1.0},
        index=idx,
    )
    labels = triple_barrier(candles, LabelSpec(horizon=2, take_profit=0.02, stop_loss=0.02, mode="pct"))
    # bar 0: bar 1 touches neither, bar 2 touches both -> stop-loss first, at 2 bars
    assert labels.iloc[0][["label", "barrier", "bars_to_hit", "realized_return"]].tolist() == [-1, -1, 2, -0.02]
    # bar 2: nothing within 2 bars and a flat close -> time barrier, label 0
    assert labels.iloc[2][["label", "barrier", "bars_to_hit", "horizon_return"]].tolist() == [0, 0, 2, 0]
    assert labels.iloc[4:].isna().all().all()


def test_atr_barriers_scale_with_volatility_and_start_after_the_warm_up():
    candles = generate("ATR", "1d", 300, seed=3)
    labels = triple_barrier(candles, LabelSpec(horizon=10, take_profit=2, stop_loss=1, mode="atr"))
    assert labels["label"].iloc[:14].isna().all() and labels["label"].iloc[14:290].notna().all()
    hits = labels[labels["barrier"] == 1]
    assert (hits["realized_return"] > 0).all() and set(labels["label"].dropna().unique()) <= {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("kwargs", [{"horizon": 0}, {"take_profit": -1}, {"mode": "bars"}, {"horizon": 2.5}, {"atr_period": 0}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        triple_barrier(generate("X", "1d", 50), LabelSpec(**kwargs))


def test_a_horizon_longer_than_the_data_labels_nothing():
    assert triple_barrier(generate("X", "1d", 5), LabelSpec(horizon=10)).isna().all().all()


def test_a_spec_travels_in_the_frames_attrs_through_parquet(tmp_path):
    spec = LabelSpec(horizon=3, take_profit=1, stop_loss=0.5, mode="pct")
    assert spec.as_dict() == {"horizon": 3, "take_profit": 1.0, "stop_loss": 0.5, "mode": "pct"}  # as stored before: floats, no atr_period
    assert LabelSpec.from_dict(spec.as_dict()) == spec and LabelSpec.from_dict({"horizon": 2}) == LabelSpec(horizon=2)
    assert LabelSpec(atr_period=20).as_dict()["atr_period"] == 20
    frame = with_spec(triple_barrier(generate("X", "1d", 60), spec), spec)
    frame.to_parquet(tmp_path / "labels.parquet")
    back = pd.read_parquet(tmp_path / "labels.parquet")
    assert back.attrs["label_config"] == spec_config(back) == spec.as_dict()
    assert LabelSpec.from_dict(spec_config(back)) == spec and spec_config(pd.DataFrame()) == {}


def test_the_dagster_config_has_the_specs_defaults():
    from assets.features import LabelConfig

    assert LabelConfig().spec() == LabelSpec()
    assert LabelConfig().model_dump() == LabelSpec().as_dict()  # the dict the labels asset stored before
