"""A retrained candidate meets the champion on the samples the champion never saw: those made
after its knowledge cutoff, scored through the champion's own inputs."""

import os

import pytest

from features import LabelSpec, triple_barrier
from market.synthetic import generate_many
from training.fit import TrainConfig
from training.pipeline import SeriesData, train_and_promote

QUICK = TrainConfig(n_splits=3, tune_trials=1, deep_trials=0, deep_epochs=1)


@pytest.mark.heavy
def test_retraining_on_more_data_is_compared_with_the_champion_on_unseen_samples():
    stores = {"tracking_uri": os.environ["MLFLOW_TRACKING_URI"], "artifact_root": os.environ["TX_MLFLOW_ARTIFACTS"]}
    frames = generate_many(["A", "B", "C"], "1d", 1900, seed=33, signal=0.5)

    def upto(bars: int) -> list[SeriesData]:
        return [SeriesData(s, "1d", c.iloc[:bars], triple_barrier(c.iloc[:bars], LabelSpec(horizon=2))) for s, c in frames.items()]

    first = train_and_promote(upto(1300), label_config={"horizon": 2}, config=QUICK, **stores)
    assert first.decision.promoted
    second = train_and_promote(upto(1900), label_config={"horizon": 2}, config=QUICK, **stores)
    d = second.decision
    assert d.champion_version == "1" and d.champion_auc is not None and d.compared_auc is not None
    assert "after champion v1's knowledge cutoff" in second.comparison
    n = int(second.comparison.split()[0])
    assert 200 <= n <= 3 * 600  # only out-of-fold samples after the cutoff
    assert d.promoted == (d.wf_auc > 0.6 and d.compared_auc >= d.champion_auc)

    # other labels: not comparable, and the gate says why instead of promoting blindly
    third = train_and_promote([SeriesData(s.symbol, "1d", s.candles, triple_barrier(s.candles, LabelSpec(horizon=3))) for s in upto(1900)],
                              label_config={"horizon": 3}, config=QUICK, **stores)
    assert not third.decision.promoted and "predicts other labels" in third.decision.reason
