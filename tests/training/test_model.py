"""The fused model as served: one pyfunc that scores candles, explains itself exactly, and
never looks ahead (its prediction at t is the same with or without the bars after t)."""

import os
import time

import mlflow
import numpy as np
import pytest

from features import LabelSpec, triple_barrier
from market.synthetic import generate_many
from training.fit import TrainConfig, train
from training.layers.stacker import logit
from training.model import to_model_input
from training.pipeline import SeriesData, build_dataset, train_and_promote
from training.recorder import Recorder
from training.windows import windows


@pytest.fixture(scope="module")
def trained():
    frames = generate_many(["A", "B"], "1d", 1000, seed=4, signal=0.3)
    series = [SeriesData(s, "1d", c, triple_barrier(c, LabelSpec(horizon=2))) for s, c in frames.items()]
    return frames, train(build_dataset(series, None, 32), TrainConfig(n_splits=3, tune_trials=1, deep_trials=0, deep_epochs=1))


def test_contributions_add_up_to_the_fused_log_odds(trained):
    frames, result = trained
    explained = result.model.explain(frames["A"], "1d", last_n=50)
    total = explained["base"] + explained[[c for c in explained if c.startswith("c_")]].sum(axis=1)
    np.testing.assert_allclose(total, logit(explained["probability"]), atol=1e-9)


def test_the_model_never_looks_ahead(trained):
    frames, result = trained
    candles = frames["B"]
    full = result.model.explain(candles, "1d")
    for cut in (620, 777, 901):
        cut_short = result.model.explain(candles.iloc[: cut + 1], "1d", last_n=1)
        np.testing.assert_array_equal(cut_short.iloc[-1].to_numpy(), full.iloc[cut].to_numpy())


def test_windows_hold_only_the_past():
    candles = generate_many(["W"], "1d", 300, seed=1)["W"]
    from features import build_features

    features = build_features(candles, "1d")
    full = windows(candles, features, 16)
    short = windows(candles.iloc[:200], features.iloc[:200], 16)
    np.testing.assert_array_equal(full[:200], short)
    assert not full[0, :-1].any()  # before the series' start: zeros


def test_registered_pyfunc_scores_candles_and_names_every_layer():
    frames = generate_many(["P"], "1d", 900, seed=8, signal=0.3)
    series = [SeriesData("P", "1d", frames["P"], triple_barrier(frames["P"], LabelSpec(horizon=2)))]
    before = time.time()
    outcome = train_and_promote(series, tracking_uri=os.environ["MLFLOW_TRACKING_URI"], artifact_root=os.environ["TX_MLFLOW_ARTIFACTS"],
                                label_config={"horizon": 2}, config=TrainConfig(n_splits=3, tune_trials=1, deep_trials=0, deep_epochs=1))
    after = time.time()
    # the training run spans the training (it starts when the call does), not only its logging
    run = Recorder(os.environ["MLFLOW_TRACKING_URI"]).read_run(outcome.logged.run_id)
    fitted = sum(outcome.trained.seconds.values())  # tuning, every fold's fits, the final fit, the stacker
    assert before - 0.002 <= run.start_time <= before + 1 and run.end_time <= after + 0.002
    assert run.end_time - run.start_time >= fitted - 0.1, (run.start_time, run.end_time, outcome.trained.seconds)
    mlflow.set_registry_uri(os.environ["MLFLOW_TRACKING_URI"])
    loaded = mlflow.pyfunc.load_model(f"models:/tx-fused/{outcome.logged.version}")
    scored = loaded.predict(to_model_input(frames["P"], "P", "1d"), params={"last_n": 3})
    assert list(scored["symbol"]) == ["P"] * 3 and scored["probability"].between(0, 1).all()
    assert {f"p_{layer}" for layer in ("pattern", "deep", "multitimeframe", "sentiment")} <= set(scored.columns)
    with pytest.raises(Exception, match="close"):
        loaded.predict(to_model_input(frames["P"], "P", "1d").drop(columns=["close"]))
    artifacts = {a.path for a in mlflow.MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).list_artifacts(outcome.logged.run_id, "plots")}
    assert {"plots/roc.png", "plots/calibration.png", "plots/fold_auc.png", "plots/confusion_matrix.png", "plots/feature_importance.png"} <= artifacts
