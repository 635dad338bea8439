"""Tuning budgets (trials, and time per layer study) and the walk-forward's reuse of the
hyper-parameters the fused model's tuning chose, as its MLflow run recorded them."""

import json
import os
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features import LabelSpec, triple_barrier
from market.synthetic import generate_many
from training.dataset import Dataset
from training.fit import TUNABLE, Chosen, TrainConfig
from training.pipeline import SeriesData, fit_series, train_and_promote
from training.recorder import client
from training.report import TUNED_BEFORE_TAG, recorded_choice
from training.splits import purged_walk_forward
from training.tuning import tune

QUICK = TrainConfig(n_splits=3, tune_trials=2, deep_trials=0, deep_epochs=1)


class Slow:
    """A stand-in layer: its score depends on its params only; each fit takes `pause` seconds."""

    pause = 0.0

    def __init__(self, a: float) -> None:
        self.a = a

    def fit(self, X, windows, y):
        time.sleep(self.pause)
        return self

    def predict(self, X, windows):
        return np.where(np.arange(len(X)) % 2 == 0, self.a, 1 - self.a)


def space(trial):
    return {"a": trial.suggest_float("a", 0.0, 1.0)}


def small_data(n: int = 300) -> tuple[Dataset, list]:
    times = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    data = Dataset(pd.DataFrame({"x": np.arange(n, dtype=float)}, index=times), np.zeros((n, 0, 0), np.float32),
                   (np.arange(n) % 2 == 0).astype(np.int8), times, times + pd.Timedelta("1D"), np.full(n, "S", object), np.full(n, "1d", object))
    return data, purged_walk_forward(data.times, data.label_end, 2, pd.Timedelta(0), 0.5)


def test_the_trial_budget_binding_first_gives_the_same_study_as_without_a_time_bound():
    data, folds = small_data()
    plain = tune(Slow, space, data, folds, n_trials=6, seed=3)
    bounded = tune(Slow, space, data, folds, n_trials=6, seed=3, timeout=600)
    assert plain == bounded and len(plain[1]) == 6


def test_a_time_bound_stops_the_study_early_and_the_trials_run_are_counted(monkeypatch):
    data, folds = small_data()
    monkeypatch.setattr(Slow, "pause", 0.05)
    best, trials = tune(Slow, space, data, folds, n_trials=1000, seed=3, timeout=0.3)
    assert 1 <= len(trials) < 1000 and best == max(trials, key=lambda t: t.value).params


def planted(bars: int = 1200) -> list[SeriesData]:
    frames = generate_many(["A", "B"], "1d", bars, seed=21, signal=0.5)
    return [SeriesData(s, "1d", c, triple_barrier(c, LabelSpec(horizon=2))) for s, c in frames.items()]


def test_the_walk_forward_refits_with_the_fused_models_recorded_hyper_parameters():
    uri = os.environ["MLFLOW_TRACKING_URI"]
    assert recorded_choice(uri) == "no tx-fused version yet"
    series = planted()
    outcome = train_and_promote(series, tracking_uri=uri, artifact_root=os.environ["TX_MLFLOW_ARTIFACTS"], label_config={"horizon": 2},
                                config=QUICK)
    run = client(uri).get_run(outcome.logged.run_id)
    assert run.data.metrics["tuning_trials_multitimeframe"] == 2 and run.data.metrics["tuning_trials_deep"] == 0
    assert json.loads(run.data.params["tuned.multitimeframe"]) == outcome.trained.best_params["multitimeframe"] != {}
    assert json.loads(run.data.params["tuned.deep"]) == {}  # not tuned (0 trials): the defaults

    chosen = recorded_choice(uri)
    assert isinstance(chosen, Chosen) and chosen.version == outcome.logged.version and chosen.run_id == outcome.logged.run_id
    assert chosen.params == {name: outcome.trained.best_params[name] for name in TUNABLE}
    assert chosen.tuned_before == pd.Timestamp(run.data.tags[TUNED_BEFORE_TAG])
    assert f"tx-fused v1 ({'champion' if outcome.decision.promoted else 'the newest version'})" in chosen.source

    rolling = replace(QUICK, train_window_bars=500)
    walked, _ = fit_series(series, base_rates_table=None, label_config={"horizon": 2}, config=rolling, final=False, chosen=chosen)
    assert walked.trials == {} and walked.best_params["multitimeframe"] == chosen.params["multitimeframe"]
    assert walked.params_from.startswith(f"multitimeframe: from tx-fused v{outcome.logged.version}")
    # the same data cut the same way: the reused params were tuned before the first test block
    assert walked.tuned_before == outcome.trained.tuned_before

    # params whose tuning saw labels after this evaluation's first test block are not reused
    late = replace(chosen, tuned_before=walked.tuned_before + pd.Timedelta("1D"))
    tuned, _ = fit_series(series, base_rates_table=None, label_config={"horizon": 2}, config=rolling, final=False, chosen=late)
    assert len(tuned.trials["multitimeframe"]) == 2 and "tuned here instead" in tuned.notes["tuning"]
    assert tuned.params_from.startswith("multitimeframe: tuned here, 2 of 2 trials")


@pytest.mark.parametrize("bound", [0.0, 1e-9])
def test_training_records_how_many_trials_ran(bound):
    series = planted(900)
    config = replace(QUICK, n_splits=2, tune_trials=3, tune_seconds=bound)
    trained, _ = fit_series(series, base_rates_table=None, label_config={"horizon": 2}, config=config, final=False)
    ran = len(trained.trials["multitimeframe"])
    assert ran == (3 if bound == 0 else 0)  # optuna checks the clock before each trial: ~0 s starts none
    assert (f"{ran} of 3 trials" in trained.params_from) and (("time bound" in trained.params_from) == bool(bound))
    if bound:
        assert trained.notes["tuning_multitimeframe"] == "0 of 3 trials within the 1e-09 s bound: defaults used"
        assert trained.best_params["multitimeframe"] == {}
