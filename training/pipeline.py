"""The training pipeline on frames already loaded: dataset -> train -> MLflow -> gate.

The Dagster assets (stored features and labels) and `tx train` (features computed on the
spot by the same functions) both call `train_and_promote`.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import BaseRates
from training.dataset import Dataset, make_dataset, pool
from training.fit import Chosen, Progress, TrainConfig, Trained, scored, train
from training.inputs import model_inputs
from training.metrics import auc
from training.model import FusedModel, to_model_input
from training.promotion import DEFAULT_THRESHOLD, WINDOW_TAG, Decision, gate
from training.online import DEFAULT_HALF_LIFE, DEFAULT_MIN_NEW, OnlineUpdate, champion_auc_on, update
from training.report import Logged, log_online, log_training
from training.recorder import FUSED_MODEL, Recorder

MIN_COMPARED = 200  # samples the champion never saw, needed to compare it with a candidate


@dataclass
class SeriesData:
    symbol: str
    timeframe: str
    candles: pd.DataFrame
    labels: pd.DataFrame
    features: pd.DataFrame | None = None  # None: computed here with build_features
    news: pd.DataFrame | None = None  # published_at, score (None: no news)


@dataclass
class Outcome:
    trained: Trained | None  # None for an online step
    logged: Logged
    decision: Decision
    comparison: str  # how the champion was compared, in words
    step: OnlineUpdate | None = None  # what an online step learned and how the line scored (None for a training)


def build_dataset(series: list[SeriesData], base_rates: BaseRates | None, window: int) -> Dataset:
    parts = []
    for s in series:
        X, windows = model_inputs(s.candles, s.timeframe, features=s.features, base_rates=base_rates, news=s.news, window=window)
        parts.append(make_dataset(X, s.labels, s.timeframe, s.symbol, windows))
    return pool(parts)


def lineage(series: list[SeriesData], data: Dataset) -> dict[str, str]:
    return {"tx.data_start": data.times.min().isoformat(), "tx.data_end": data.times.max().isoformat(),
            "tx.symbols": ",".join(sorted({s.symbol for s in series})),
            "tx.timeframes": ",".join(sorted({s.timeframe for s in series})), "tx.samples": str(len(data))}


def compare_with_champion(tracking_uri: str, series: list[SeriesData], trained: Trained) -> tuple[float | None, float | None, str]:
    """(champion AUC, candidate AUC, how) on the candidate's out-of-fold samples made after the
    champion's knowledge cutoff (when the last label it learned from was known): samples no
    part of the champion has seen, scored by the champion through its own inputs (its
    window, its base rates). (None, None, why) when not comparable that way."""
    recorder = Recorder(tracking_uri)
    champion = recorder.champion()
    if champion is None:
        return None, None, "no champion yet"
    if recorder.read_run(champion.run_id).tags.get(WINDOW_TAG) == trained.eval_window:
        return None, None, f"champion v{champion.version} was evaluated on the same window"
    old: FusedModel = recorder.load(champion.version)
    if old.label_config != trained.model.label_config:
        return None, None, f"champion v{champion.version} predicts other labels ({old.label_config}): not comparable"
    evaluated = scored(trained.oof)
    unseen = evaluated[evaluated["time"] > pd.Timestamp(old.knowledge_cutoff)] if old.knowledge_cutoff else evaluated.iloc[:0]
    if len(unseen) < MIN_COMPARED or unseen["y"].nunique() < 2:
        return None, None, f"only {len(unseen)} sample(s) after champion v{champion.version}'s knowledge cutoff (< {MIN_COMPARED})"
    by_key = {(s.symbol, s.timeframe): s for s in series}
    ys, theirs, mine = [], [], []
    for (symbol, timeframe), rows in unseen.groupby(["symbol", "timeframe"]):
        one = by_key[(symbol, timeframe)]
        explained = old.explain(one.candles, timeframe, one.news)
        ys.append(rows["y"].to_numpy())
        theirs.append(explained["probability"].reindex(pd.DatetimeIndex(rows["time"])).to_numpy())
        mine.append(rows["fused"].to_numpy())
    y = np.concatenate(ys)
    return (auc(y, np.concatenate(theirs)), auc(y, np.concatenate(mine)),
            f"{len(y)} samples after champion v{champion.version}'s knowledge cutoff {old.knowledge_cutoff}")


def fit_series(series: list[SeriesData], *, base_rates_table: pd.DataFrame | None, label_config: dict | None, config: TrainConfig,
               progress: Progress | None = None, say: Callable[[str], None] = lambda _: None, final: bool = True,
               chosen: Chosen | None = None) -> tuple[Trained, Dataset]:
    """Pool the series and train with purged walk-forward evaluation (nothing logged): what
    training and the walk-forward analysis (`final=False`: no final model; `chosen`: the
    fused model's hyper-parameters instead of tuning) share."""
    rates = BaseRates(base_rates_table) if base_rates_table is not None else None
    data = build_dataset(series, rates, config.window)
    say(f"{len(data)} samples from {len(series)} series, {data.X.shape[1]} features, windows {data.windows.shape[1:]}")
    trained = train(data, config, base_rates_table=base_rates_table, label_config=label_config, progress=progress, final=final,
                    chosen=chosen)
    say(f"hyper-parameters: {trained.params_from}" + (f" ({trained.notes['tuning']})" if "tuning" in trained.notes else ""))
    say(f"wf_auc {trained.metrics['wf_auc']:.4f} (folds sd {trained.metrics['wf_auc_std']:.4f}) on {trained.eval_window}")
    return trained, data


def train_and_promote(
    series: list[SeriesData], *, tracking_uri: str, artifact_root: str, base_rates_table: pd.DataFrame | None = None,
    label_config: dict | None = None, config: TrainConfig = TrainConfig(), threshold: float = DEFAULT_THRESHOLD,
    progress: Progress | None = None, say: Callable[[str], None] | None = None, tags: dict[str, str] | None = None,
) -> Outcome:
    """Train on `series`, log and register a new `tx-fused` version (with `tags` on its run,
    e.g. why it was retrained), and run the gate on it. The MLflow run spans the training:
    it starts when this call does."""
    started = time.time()
    say = say or (lambda _: None)
    trained, data = fit_series(series, base_rates_table=base_rates_table, label_config=label_config, config=config,
                               progress=progress, say=say)
    first = series[0]
    example = to_model_input(first.candles.tail(600), first.symbol, first.timeframe)
    logged = log_training(trained, tracking_uri=tracking_uri, artifact_root=artifact_root, input_example=example,
                          lineage=lineage(series, data) | (tags or {}), threshold=threshold, started=started)
    say(f"registered {FUSED_MODEL} v{logged.version} (run {logged.run_id})")
    champion_auc, candidate_auc, how = compare_with_champion(tracking_uri, series, trained)
    decision = gate(Recorder(tracking_uri), FUSED_MODEL, logged.version, threshold,
                    champion_auc_on_window=champion_auc, candidate_auc_on_window=candidate_auc, comparison=how)
    return Outcome(trained, logged, decision, how)


def base_version(tracking_uri: str) -> str | None:
    """The newest version: where the online line continues from (the gate, not the line,
    decides what serves)."""
    newest = Recorder(tracking_uri).newest()
    return None if newest is None else newest.version


def load_base(tracking_uri: str) -> tuple[str, FusedModel] | None:
    """(version, model) of the newest version, or None before any training."""
    version = base_version(tracking_uri)
    return None if version is None else (version, Recorder(tracking_uri).load(version))


NO_MODEL_YET = f"no {FUSED_MODEL} version yet: train one first (the fused_model asset or `tx train`)"


def online_step(series: list[SeriesData], *, tracking_uri: str, artifact_root: str, threshold: float = DEFAULT_THRESHOLD,
                min_new: int = DEFAULT_MIN_NEW, half_life: int = DEFAULT_HALF_LIFE,
                base: tuple[str, FusedModel] | None = None) -> Outcome | str:
    """Learn the newly matured labels on top of `base` (default: the newest version, loaded
    here), recent samples weighing more (`half_life`, in samples), register the result as a
    new version and put it through the gate; or say why nothing was done. The step's MLflow
    run starts when this call does."""
    started = time.time()
    base = base or load_base(tracking_uri)
    if base is None:
        return NO_MODEL_YET
    base_version_, base_model = base
    step = update(base_model, series, base_version_, min_new, half_life)
    if isinstance(step, str):
        return step
    first = series[0]
    logged = log_online(step, base_version=base_version_, tracking_uri=tracking_uri, artifact_root=artifact_root,
                        input_example=to_model_input(first.candles.tail(600), first.symbol, first.timeframe), min_compared=MIN_COMPARED,
                        started=started)
    champion_auc = candidate_auc = None
    how = "no champion yet"
    recorder = Recorder(tracking_uri)
    champion = recorder.champion()
    if champion is not None:
        champion_model = base_model if champion.version == base_version_ else recorder.load(champion.version)
        theirs, mine, n = champion_auc_on(champion_model, champion.version, step.model.online)
        if n >= MIN_COMPARED:
            champion_auc, candidate_auc = theirs, mine
            how = f"{n} online samples after champion v{champion.version}'s knowledge cutoff, scored by other versions"
        else:
            how = (f"only {n} online sample(s) after champion v{champion.version}'s knowledge cutoff scored by other "
                   f"versions (< {MIN_COMPARED}): the line must prove itself first")
    decision = gate(recorder, FUSED_MODEL, logged.version, threshold, champion_auc_on_window=champion_auc,
                    candidate_auc_on_window=candidate_auc, comparison=how)
    return Outcome(None, logged, decision, how, step)
