"""Online learning: newly matured labels update the model, prequentially evaluated, through
the same gate; versions are never overwritten and the state survives a restart (it lives
in the registry, so a fresh process picks up where the last one stopped)."""

import os

from features import LabelSpec, triple_barrier
from market.synthetic import generate_many
from training.fit import TrainConfig
from training.pipeline import SeriesData, online_step, train_and_promote
from training.recorder import FUSED_MODEL, client


def series_until(frames: dict, bars: int) -> list[SeriesData]:
    out = []
    for symbol, candles in frames.items():
        cut = candles.iloc[:bars]
        out.append(SeriesData(symbol, "1d", cut, triple_barrier(cut, LabelSpec(horizon=2))))
    return out


def test_online_steps_learn_new_labels_once_and_go_through_the_gate():
    stores = {"tracking_uri": os.environ["MLFLOW_TRACKING_URI"], "artifact_root": os.environ["TX_MLFLOW_ARTIFACTS"]}
    frames = generate_many(["A", "B", "C"], "1d", 2000, seed=21, signal=0.5)
    first = train_and_promote(series_until(frames, 1400), label_config={"horizon": 2},
                              config=TrainConfig(n_splits=3, tune_trials=1, deep_trials=0, deep_epochs=1), **stores)
    assert first.decision.promoted
    mlflow_client = client(stores["tracking_uri"])

    assert "nothing to update" in online_step(series_until(frames, 1400), **stores)  # nothing new has matured

    # step 1 learns on top of the champion; its new samples were scored by the champion itself,
    # so the line has nothing to show against it yet: registered, not promoted
    step = online_step(series_until(frames, 1600), **stores)
    run = mlflow_client.get_run(step.logged.run_id)
    assert step.logged.version == "2" and run.data.params["base_version"] == "1" and run.data.params["new_samples"] == str(3 * 200)
    assert 3 * 195 <= run.data.metrics["history_samples"] <= 3 * 200  # only samples after the champion's knowledge cutoff
    assert run.data.metrics["wf_auc"] > 0.6  # the planted signal, scored before it was learned
    assert not step.decision.promoted and "prove itself" in step.decision.reason

    # step 2 continues the line from version 2: its samples were scored by version 2, so the
    # champion can be compared with the line on them
    step = online_step(series_until(frames, 1800), **stores)
    assert step.logged.version == "3" and mlflow_client.get_run(step.logged.run_id).data.params["base_version"] == "2"
    assert step.decision.champion_auc is not None and "scored by other versions" in step.comparison
    assert step.decision.promoted == (step.decision.compared_auc >= step.decision.champion_auc)

    # a "restart": nothing is kept in memory; the same data again has nothing new
    assert "nothing to update" in online_step(series_until(frames, 1800), **stores)
    versions = sorted(int(v.version) for v in mlflow_client.search_model_versions(f"name = '{FUSED_MODEL}'"))
    assert versions == [1, 2, 3]


def test_no_model_yet_says_so():
    frames = generate_many(["A"], "1d", 300, seed=1)
    message = online_step(series_until(frames, 300), tracking_uri=os.environ["MLFLOW_TRACKING_URI"],
                          artifact_root=os.environ["TX_MLFLOW_ARTIFACTS"])
    assert "train one first" in message
