"""Online learning: newly matured labels update the model, prequentially evaluated, through
the same gate; versions are never overwritten and the state survives a restart (it lives
in the registry, so a fresh process picks up where the last one stopped)."""

import os

import numpy as np
from scipy.special import expit

from features import LabelSpec, triple_barrier
from market.synthetic import generate_many
from training.fit import TrainConfig
from training.layers.stacker import Stacker
from training.metrics import auc
from training.online import DEFAULT_HALF_LIFE
from training.pipeline import SeriesData, online_step, train_and_promote
from training.recorder import FUSED_MODEL, client
from training.report import recorded_choice


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
    # an online step only updates the stacker: the hyper-parameters behind the champion's
    # layers are those v1's training run recorded, whichever version is champion now
    chosen = recorded_choice(stores["tracking_uri"])
    assert chosen.run_id == first.logged.run_id and chosen.params["multitimeframe"] == first.trained.best_params["multitimeframe"]
    champion = "3" if step.decision.promoted else "1"
    assert chosen.version == champion and chosen.source.startswith(f"tx-fused v{champion} (champion")
    assert ("its layers are those of v1" in chosen.source) == step.decision.promoted

    # the line's prequential AUC over time, as step metrics of the version's run: step = samples
    # scored so far, time = the bar of the last of them; the last point is the whole line's
    run = mlflow_client.get_run(step.logged.run_id)
    assert run.data.params["half_life"] == str(DEFAULT_HALF_LIFE)
    curve = sorted(mlflow_client.get_metric_history(step.logged.run_id, "prequential_auc"), key=lambda m: m.step)
    samples = int(run.data.metrics["history_samples"])
    assert len(curve) >= 50 and curve[-1].step == samples and all(a.step < b.step for a, b in zip(curve, curve[1:]))
    assert curve[-1].value == run.data.metrics["prequential_auc"] == run.data.metrics["history_auc"]
    times = [m.timestamp for m in curve]
    assert times == sorted(times) and frames["A"].index[1400].timestamp() * 1000 <= times[0] < times[-1] <= frames["A"].index[1800].timestamp() * 1000
    recent = mlflow_client.get_metric_history(step.logged.run_id, "prequential_auc_recent")
    assert len(recent) == len(curve) and all(0 <= m.value <= 1 for m in recent)

    # a "restart": nothing is kept in memory; the same data again has nothing new
    assert "nothing to update" in online_step(series_until(frames, 1800), **stores)
    versions = sorted(int(v.version) for v in mlflow_client.search_model_versions(f"name = '{FUSED_MODEL}'"))
    assert versions == [1, 2, 3]


def test_no_model_yet_says_so():
    frames = generate_many(["A"], "1d", 300, seed=1)
    message = online_step(series_until(frames, 300), tracking_uri=os.environ["MLFLOW_TRACKING_URI"],
                          artifact_root=os.environ["TX_MLFLOW_ARTIFACTS"])
    assert "train one first" in message


def drifting_layers(n: int, drift_at: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Layer outputs (pattern, deep, multitimeframe, sentiment) and labels whose relation
    changes at `drift_at`: the first layer's signal counts for the label before it and against
    it after (a pattern that stopped working and turned), the second's holds throughout, the
    third is noise and the sentiment layer, without news, a constant 0.5."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    turned = np.where(np.arange(n) < drift_at, 1.0, -1.0)
    y = (rng.random(n) < expit(1.2 * (turned * a + 0.5 * b))).astype(np.int8)
    P = np.column_stack([expit(0.8 * a + rng.normal(0, 0.5, n)), expit(0.8 * b + rng.normal(0, 0.5, n)),
                         expit(rng.normal(0, 1, n)), np.full(n, 0.5)])
    return P, y


def prequential(stacker: Stacker | None, frozen: Stacker, P: np.ndarray, y: np.ndarray, batch: int,
                half_life: int) -> tuple[np.ndarray, np.ndarray]:
    """(the line's, the frozen model's) probabilities for each sample, each batch scored
    before the line learns it (`stacker` None: no line, the frozen model's twice)."""
    mine, theirs = [], []
    for start in range(0, len(y), batch):
        Pb, yb = P[start:start + batch], y[start:start + batch]
        theirs.append(frozen.predict(Pb))
        mine.append((stacker or frozen).predict(Pb))
        if stacker is not None:
            stacker.update(Pb, yb, half_life)
    return np.concatenate(mine), np.concatenate(theirs)


BASE, AFTER, BATCH = 4000, 3000, 60  # out-of-fold samples the stacker was fitted on; samples after; one online step's


def test_the_recency_weight_recovers_from_a_drift_faster_than_equal_weights_and_the_frozen_model():
    P, y = drifting_layers(BASE + AFTER, BASE, seed=7)
    layers = ("pattern", "deep", "multitimeframe", "sentiment")
    frozen = Stacker(layers).fit(P[:BASE], y[:BASE])
    after_P, after_y = P[BASE:], y[BASE:]
    weighted, frozen_p = prequential(Stacker(layers).fit(P[:BASE], y[:BASE]), frozen, after_P, after_y, BATCH, DEFAULT_HALF_LIFE)
    equal, _ = prequential(Stacker(layers).fit(P[:BASE], y[:BASE]), frozen, after_P, after_y, BATCH, 0)

    def span(p: np.ndarray, start: int, end: int) -> float:
        return auc(after_y[start:end], p[start:end])

    def recovered_after(p: np.ndarray, level: float = 0.6, last: int = 200) -> int:
        """Samples after the drift until the AUC of the last `last` prequential scores reaches `level`."""
        return next((k for k in range(last, AFTER + 1, BATCH) if auc(after_y[k - last:k], p[k - last:k]) >= level), AFTER + 1)

    figures = {name: [round(span(p, a, b), 3) for a, b in ((0, 500), (500, 1000), (1000, 2000), (2000, AFTER))]
               for name, p in (("frozen", frozen_p), ("equal", equal), ("weighted", weighted))}
    print(figures, {name: recovered_after(p) for name, p in (("equal", equal), ("weighted", weighted))})
    assert max(figures["frozen"]) < 0.45  # the frozen model keeps the old relation: worse than a coin after the drift
    assert figures["weighted"][1] > 0.6 and figures["weighted"][1] > figures["equal"][1] + 0.15
    assert figures["weighted"][2] > figures["equal"][2] + 0.1 and min(figures["weighted"][1:]) > max(figures["frozen"]) + 0.25
    assert recovered_after(weighted) < 1000 < recovered_after(equal)  # within about two half-lives; equal weights take longer


def test_the_recency_weight_costs_little_when_nothing_changes():
    P, y = drifting_layers(BASE + AFTER, BASE + AFTER, seed=8)  # the relation holds throughout
    layers = ("pattern", "deep", "multitimeframe", "sentiment")
    frozen = Stacker(layers).fit(P[:BASE], y[:BASE])
    weighted, frozen_p = prequential(Stacker(layers).fit(P[:BASE], y[:BASE]), frozen, P[BASE:], y[BASE:], BATCH, DEFAULT_HALF_LIFE)
    assert abs(auc(y[BASE:], weighted) - auc(y[BASE:], frozen_p)) < 0.01
