import numpy as np
import pandas as pd
import pytest

from features import LabelSpec, build_features, triple_barrier
from market.files import bundled
from market.universe import Series
from training.dataset import make_dataset, pool
from training.splits import purged_walk_forward


@pytest.fixture(scope="module")
def pooled():
    parts = []
    for series in (Series("SPX", "1d"), Series("IXIC", "1d"), Series("GOOGL", "1d")):
        candles = bundled().read(series)
        parts.append(make_dataset(build_features(candles, "1d"), triple_barrier(candles, LabelSpec(horizon=10)), "1d", series.symbol))
    return pool(parts)


def test_walk_forward_trains_only_on_the_purged_embargoed_past(pooled):
    embargo = pd.Timedelta(days=5)
    folds = purged_walk_forward(pooled.times, pooled.label_end, n_splits=5, embargo=embargo)
    assert len(folds) == 5
    t, end = pooled.times.as_unit("ns").asi8, pooled.label_end.as_unit("ns").asi8
    for previous, fold in zip([None, *folds[:-1]], folds, strict=True):
        start = fold.test_start.value
        assert t[fold.train].max() < start - embargo.value  # walk-forward + embargo
        assert end[fold.train].max() < start  # purge: every training label known before the test block
        assert t[fold.test].min() >= start
        if previous is not None:
            assert fold.test_start > previous.test_end and len(fold.train) > len(previous.train)  # expanding
    assert set(pooled.symbols[folds[-1].test]) == {"SPX", "IXIC", "GOOGL"}  # pooled symbols share the time blocks
    purged_away = ((t < folds[2].test_start.value) & (end >= folds[2].test_start.value)).sum()
    assert purged_away > 0  # the purge really removes overlapping labels


def test_samples_stop_where_labels_stop_and_labels_are_never_features():
    candles = bundled().read(Series("SPX", "1d"))
    labels = triple_barrier(candles, LabelSpec(horizon=10))
    data = make_dataset(build_features(candles, "1d"), labels, "1d", "SPX")
    assert len(data.y) == labels["label"].notna().sum() and data.times[-1] < candles.index[-10]
    assert (data.label_end > data.times).all()
    # the deciding bar found by position: over a weekend, 1 bar later is 3 days later
    position = candles.index.get_indexer(data.times)
    deciding = candles.index[position + labels["bars_to_hit"].to_numpy()[position].astype(int)]
    assert (data.label_end == deciding + pd.Timedelta("1d")).all()
    assert (data.label_end - data.times > labels["bars_to_hit"].dropna().to_numpy()[: len(data.times)] * pd.Timedelta("1d")).any()
    leaked = build_features(candles, "1d").assign(label=labels["label"])
    with pytest.raises(ValueError, match="label column"):
        make_dataset(leaked, labels, "1d", "SPX")


def test_bad_split_requests_are_refused():
    times = pd.date_range("2020-01-01", periods=10, freq="1D", tz="UTC")
    with pytest.raises(ValueError, match="distinct times"):
        purged_walk_forward(times, times, n_splits=20)
    with pytest.raises(ValueError, match="known before"):
        purged_walk_forward(times, times - pd.Timedelta(days=1))
    assert np.concatenate([f.test for f in purged_walk_forward(times, times, n_splits=3)]).tolist() == list(range(3, 10))


def test_rolling_windows_train_only_within_the_window(pooled):
    window = pd.Timedelta(days=3 * 365)
    expanding = purged_walk_forward(pooled.times, pooled.label_end, n_splits=4, embargo=pd.Timedelta(days=5))
    rolling = purged_walk_forward(pooled.times, pooled.label_end, n_splits=4, embargo=pd.Timedelta(days=5), train_window=window)
    t = pooled.times.as_unit("ns").asi8
    assert [f.test_start for f in rolling] == [f.test_start for f in expanding]  # same test blocks
    for fold, wide in zip(rolling, expanding, strict=True):
        assert t[fold.train].min() >= fold.test_start.value - window.value  # nothing older than the window
        assert set(fold.train) <= set(wide.train) and len(fold.train) < len(wide.train)
