"""Training assets: the fused model (train, log, register, gate), the online step, the champion.

Thin over `training/`: they gather the stored frames, candles and news, call
`training.pipeline`, and report the numbers and the gate's decision as metadata.
"""

import dagster as dg
import pandas as pd

from assets.candles import candles
from assets.inputs import TRAINING_INS, stored_series
from assets.plots import png_markdown
from features import triple_barrier
from features.labels import spec_config
from features.sentiment import scores_of
from market.universe import Series, choose_series
from resources.stores import AppDatabase, MlflowTracking
from resources.tags import RETRAIN_REASON
from store.candles import coverage, load_candles
from store.news import load_news
from training import plots
from training.fit import TUNABLE, TrainConfig
from training.splits import NotEnoughData
from training.pipeline import NO_MODEL_YET, Outcome, SeriesData, load_base, online_step, train_and_promote
from training.promotion import recorded
from training.recorder import FUSED_MODEL, Recorder


class TrainingConfig(dg.Config):
    """Defaults as tx/settings.py's; a run gets the settings' values (TX_TRAIN_*) from pipelines/run_config.py."""

    timeframes: str = "1d"  # comma-separated timeframes to pool ("" = every stored one)
    n_splits: int = 5
    embargo_bars: int = 10
    tune_trials: int = 6
    deep_trials: int = 0
    deep_epochs: int = 3
    tune_seconds: float = 0.0  # TX_TRAIN_TUNE_SECONDS: time bound of each layer's study (0: trials only)
    seed: int = 0
    accelerator: str = "auto"  # a GPU when present, else the CPU; "cpu" forces it

    def train_config(self) -> TrainConfig:
        return TrainConfig(n_splits=self.n_splits, embargo_bars=self.embargo_bars, tune_trials=self.tune_trials,
                           deep_trials=self.deep_trials, deep_epochs=self.deep_epochs, tune_seconds=self.tune_seconds, seed=self.seed,
                           accelerator=self.accelerator)


def _decision_metadata(outcome: Outcome, tracking: MlflowTracking) -> dict:
    d = outcome.decision
    return {
        "promoted": dg.MetadataValue.bool(d.promoted),
        "decision": dg.MetadataValue.text(d.reason),
        "wf_auc": dg.MetadataValue.float(float(d.wf_auc) if d.wf_auc is not None else float("nan")),
        "threshold": dg.MetadataValue.float(d.threshold),
        "champion_version": dg.MetadataValue.text(d.champion_version or "none"),
        "champion_auc": dg.MetadataValue.float(d.champion_auc if d.champion_auc is not None else float("nan")),
        "compared_on": dg.MetadataValue.text(outcome.comparison),
        "model_version": dg.MetadataValue.text(f"{FUSED_MODEL} v{d.version}"),
        "mlflow_run": dg.MetadataValue.url(tracking.run_url(outcome.logged.experiment_id, outcome.logged.run_id)),
        "mlflow_model": dg.MetadataValue.url(tracking.model_url(FUSED_MODEL, d.version)),
    }


@dg.asset(
    ins=TRAINING_INS,
    group_name="training",
    kinds={"pytorch", "scikitlearn", "mlflow"},
    description="The five-layer fused predictor: purged walk-forward evaluation, MLflow run, a new registered "
    "version of tx-fused and the promotion gate's decision.",
)
def fused_model(context: dg.AssetExecutionContext, config: TrainingConfig, app_db: AppDatabase, mlflow_tracking: MlflowTracking,
                features: dict[str, pd.DataFrame], labels: dict[str, pd.DataFrame], pattern_base_rates: pd.DataFrame) -> dg.MaterializeResult:
    series = stored_series(context, app_db, features, labels, config.timeframes)
    label_config = spec_config(series[0].labels)

    def progress(what: str, done: int, total: int) -> None:
        context.log.info(f"[{done}/{total}] {what}")

    reason = context.run.tags.get(RETRAIN_REASON)  # set when the drift sensor asked for this run
    if reason:
        context.log.info(f"retraining because: {reason}")
    try:
        outcome = train_and_promote(series, tracking_uri=mlflow_tracking.tracking_uri, artifact_root=mlflow_tracking.artifact_root,
                                    base_rates_table=pattern_base_rates, label_config=label_config, config=config.train_config(),
                                    threshold=mlflow_tracking.threshold, progress=progress, say=context.log.info,
                                    tags={"tx.retrain_reason": reason} if reason else None)
    except NotEnoughData as exc:  # a small universe is not an error of the pipeline: say why, register nothing
        context.log.warning(f"not trained: {exc}")
        return dg.MaterializeResult(metadata={"skipped": dg.MetadataValue.text(f"not trained: {exc}"),
                                              "series": dg.MetadataValue.text(", ".join(f"{s.symbol}:{s.timeframe}" for s in series))})
    trained = outcome.trained
    folds = pd.DataFrame(trained.folds)
    layer_aucs = {name: round(trained.metrics[f"auc_{name}"], 4) for name in trained.model.layer_names}
    return dg.MaterializeResult(metadata=_decision_metadata(outcome, mlflow_tracking) | {
        "retrain_reason": dg.MetadataValue.text(reason or "scheduled or manual"),
        "wf_auc_std": dg.MetadataValue.float(trained.metrics["wf_auc_std"]),
        "layer_auc": dg.MetadataValue.json(layer_aucs),
        "seconds": dg.MetadataValue.json({k: round(v, 1) for k, v in trained.seconds.items()}),
        "tuning_trials": dg.MetadataValue.json({name: len(trained.trials.get(name, [])) for name in TUNABLE}),
        "hyper_parameters": dg.MetadataValue.text(trained.params_from),
        "samples": dg.MetadataValue.int(int(trained.metrics["n_evaluated"])),
        "series": dg.MetadataValue.text(", ".join(f"{s.symbol}:{s.timeframe}" for s in series)),
        "eval_window": dg.MetadataValue.text(trained.eval_window),
        "notes": dg.MetadataValue.json({k: v for k, v in trained.notes.items() if v}),
        "fold_auc": dg.MetadataValue.md(png_markdown(plots.fold_auc(folds, ["auc_fused", *[f"auc_{n}" for n in layer_aucs]], mlflow_tracking.threshold), "AUC per fold")),
        "roc": dg.MetadataValue.md(png_markdown(plots.roc(trained.oof[trained.oof["fused"].notna()], {"fused": "fused"} | {n: f"p_{n}" for n in layer_aucs}, "ROC, out of fold"), "ROC")),
    })


class OnlineConfig(dg.Config):
    timeframes: str = "1d"  # TX_TRAIN_TIMEFRAMES
    min_new: int = 20  # TX_ONLINE_MIN_NEW: newly matured labels needed for a step
    half_life: int = 500  # TX_ONLINE_HALF_LIFE: samples over which a sample's weight in the step halves (0: all alike)


@dg.asset(
    deps=[candles],
    group_name="training",
    kinds={"scikitlearn", "mlflow"},
    description="Online learning: labels that matured in the stored candles since the newest version last learned "
    "update its stacker (warm start, recent samples weighing more), prequentially evaluated; a new tx-fused version "
    "goes through the same gate. Skips when nothing new has matured.",
)
def online_model(context: dg.AssetExecutionContext, config: OnlineConfig, app_db: AppDatabase, mlflow_tracking: MlflowTracking):
    loaded = load_base(mlflow_tracking.tracking_uri)  # loaded once: its labels settings, then its online step
    if loaded is None:
        return dg.MaterializeResult(metadata={"skipped": dg.MetadataValue.text(NO_MODEL_YET)})
    base, model = loaded  # labels made exactly as the base model's (its label spec)

    series = []
    for one in choose_series([Series(r.symbol, r.timeframe) for r in coverage(app_db.engine).itertuples()], config.timeframes):
        bars = load_candles(app_db.engine, one.symbol, one.timeframe)
        series.append(SeriesData(one.symbol, one.timeframe, bars, triple_barrier(bars, model.label_spec), news=scores_of(load_news(app_db.engine, one.symbol))))
    outcome = online_step(series, tracking_uri=mlflow_tracking.tracking_uri, artifact_root=mlflow_tracking.artifact_root,
                          threshold=mlflow_tracking.threshold, min_new=config.min_new, half_life=config.half_life,
                          base=loaded) if series else "no stored candles"
    if isinstance(outcome, str):
        context.log.info(outcome)
        return dg.MaterializeResult(metadata={"skipped": dg.MetadataValue.text(outcome), "base_version": dg.MetadataValue.text(base)})
    step = outcome.step
    return dg.MaterializeResult(metadata=_decision_metadata(outcome, mlflow_tracking) | {
        "base_version": dg.MetadataValue.text(base),
        "new_samples": dg.MetadataValue.int(step.new_samples),
        "new_per_series": dg.MetadataValue.json(step.per_series),
        "prequential_auc": dg.MetadataValue.float(step.history_auc),  # the line's, every sample scored before it was learned
        "prequential_samples": dg.MetadataValue.int(step.history_samples),
        "batch_auc": dg.MetadataValue.float(step.batch_auc),
        "half_life": dg.MetadataValue.int(step.half_life),
    })


@dg.asset(
    group_name="training",
    kinds={"mlflow"},
    description="The current champion of tx-fused (materialized by the champion sensor when a new one is promoted); "
    "what backtests and scans downstream follow.",
)
def champion_model(context: dg.AssetExecutionContext, mlflow_tracking: MlflowTracking) -> dg.MaterializeResult:
    recorder = Recorder(mlflow_tracking.tracking_uri)
    version = recorder.champion()
    if version is None:
        raise dg.Failure(f"{FUSED_MODEL} has no champion yet")
    run = recorder.read_run(version.run_id)
    decision = recorded(version)
    return dg.MaterializeResult(metadata={
        "version": dg.MetadataValue.text(version.version),
        "wf_auc": dg.MetadataValue.float(float(run.metrics.get("wf_auc", float("nan")))),
        "decision": dg.MetadataValue.text(decision.reason if decision else ""),
        "forced": dg.MetadataValue.bool(decision is not None and decision.forced),
        "mlflow_model": dg.MetadataValue.url(mlflow_tracking.model_url(FUSED_MODEL, version.version)),
    })
