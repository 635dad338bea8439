"""Training assets: the fused model (train, log, register, gate), the online step, the champion,
the RL agent over the fused model's out-of-fold outputs.

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
from training.recorder import FUSED_MODEL, RL_MODEL, Recorder
from training.rl.agent import RlConfig
from trading.plots import equity_drawdown
from trading.rl import STRATEGIES
from trading.rl_pipeline import NO_FUSED_OOF, summary_line, train_rl_and_promote


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

    def train_config(self, tune_storage: str = "") -> TrainConfig:
        """The training's config; `tune_storage` (the MlflowTracking resource's, TX_OPTUNA_STORAGE) shares its studies."""
        return TrainConfig(n_splits=self.n_splits, embargo_bars=self.embargo_bars, tune_trials=self.tune_trials,
                           deep_trials=self.deep_trials, deep_epochs=self.deep_epochs, tune_seconds=self.tune_seconds, seed=self.seed,
                           accelerator=self.accelerator, tune_storage=tune_storage or None)


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
                                    base_rates_table=pattern_base_rates, label_config=label_config, config=config.train_config(mlflow_tracking.optuna_storage),
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


class RlPolicyConfig(dg.Config):
    """Defaults as tx/settings.py's (TX_RL_*, TX_BACKTEST_* costs and thresholds); a run gets the settings' values."""

    timeframes: str = "1d"
    algorithm: str = "ppo"
    timesteps: int = 4_096
    n_splits: int = 4
    episode_bars: int = 256
    seed: int = 0
    fee: float = 0.001
    slippage: float = 0.0005
    buy_threshold: float = 0.55
    sell_threshold: float = 0.45
    again: bool = False  # train even when the newest tx-rl version learned from the same fused version

    def rl_config(self) -> RlConfig:
        return RlConfig(algorithm=self.algorithm, timesteps=self.timesteps, n_splits=self.n_splits, episode_bars=self.episode_bars,
                        seed=self.seed, fee=self.fee, slippage=self.slippage)


@dg.asset(
    deps=[fused_model],
    group_name="training",
    kinds={"pytorch", "mlflow"},
    description="The RL agent (stable-baselines3, PPO by default) over the fused model's out-of-fold probabilities, the "
    "features and the position: trained walk-forward, backtested out of sample by the engine beside flat, buy-and-hold "
    "and the fused-threshold strategy, logged to the tx-rl experiment, registered as tx-rl and gated (Sharpe after "
    "costs > 0 and > the fused-threshold strategy's). Skips when the newest tx-rl already learned from the same fused version.",
)
def rl_policy(context: dg.AssetExecutionContext, config: RlPolicyConfig, app_db: AppDatabase, mlflow_tracking: MlflowTracking) -> dg.MaterializeResult:
    recorder = Recorder(mlflow_tracking.tracking_uri)
    found = recorder.with_out_of_fold(FUSED_MODEL)
    if found is None:
        context.log.warning(NO_FUSED_OOF)
        return dg.MaterializeResult(metadata={"skipped": dg.MetadataValue.text(NO_FUSED_OOF)})
    newest = recorder.newest(RL_MODEL)
    if newest is not None and newest.tags.get("tx.fused_version") == found[0].version and not config.again:
        why = f"{RL_MODEL} v{newest.version} already learned from {FUSED_MODEL} v{found[0].version} (config `again` retrains)"
        context.log.info(why)
        return dg.MaterializeResult(metadata={"skipped": dg.MetadataValue.text(why)})
    inputs = []
    for one in choose_series([Series(r.symbol, r.timeframe) for r in coverage(app_db.engine).itertuples()], config.timeframes):
        inputs.append((one.symbol, one.timeframe, load_candles(app_db.engine, one.symbol, one.timeframe), None))
    try:
        outcome = train_rl_and_promote(inputs, tracking_uri=mlflow_tracking.tracking_uri, artifact_root=mlflow_tracking.artifact_root,
                                       config=config.rl_config(), thresholds=(config.buy_threshold, config.sell_threshold),
                                       progress=context.log.info)
    except NotEnoughData as exc:
        context.log.warning(f"not trained: {exc}")
        return dg.MaterializeResult(metadata={"skipped": dg.MetadataValue.text(f"not trained: {exc}")})
    result, d = outcome.result, outcome.decision
    m = result.metrics
    windows = [{"window": w["window"], "start": f"{w['start']:%Y-%m-%d}", "end": f"{w['end']:%Y-%m-%d}"}
               | {f"{name} {fig}": (None if w[name][fig] is None else round(w[name][fig], 4)) for name in ("rl", "fused_threshold", "buy_and_hold")
                  for fig in ("return", "sharpe")} | {"rl trades": w["rl"]["trades"], "rl turnover": round(w["rl"]["turnover"], 1)}
               for w in result.windows]
    fig = equity_drawdown({name: result.portfolio[name] for name in STRATEGIES}, "RL out of sample vs baselines (after costs)",
                          [a for a, _ in result.spans])
    return dg.MaterializeResult(metadata={
        "promoted": dg.MetadataValue.bool(d.promoted),
        "decision": dg.MetadataValue.text(d.reason),
        "rule": dg.MetadataValue.text(d.rule),
        "model_version": dg.MetadataValue.text(f"{RL_MODEL} v{outcome.version}"),
        "fused_version": dg.MetadataValue.text(f"{FUSED_MODEL} v{outcome.fused.version}"),
        "summary": dg.MetadataValue.text(summary_line(outcome)),
        "figures": dg.MetadataValue.json({k: (None if v is None else round(v, 4)) for k, v in m.items()}),
        "windows": dg.MetadataValue.md(pd.DataFrame(windows).to_markdown(index=False)),
        "env_steps": dg.MetadataValue.int(result.steps),
        "env_steps_per_s": dg.MetadataValue.float(result.steps / max(result.seconds, 1e-9)),
        "seconds": dg.MetadataValue.float(round(outcome.seconds, 1)),
        "equity": dg.MetadataValue.md(png_markdown(fig, "RL equity and drawdown")),
        "mlflow_run": dg.MetadataValue.url(mlflow_tracking.run_url(outcome.experiment_id, outcome.run_id)),
        "mlflow_model": dg.MetadataValue.url(mlflow_tracking.model_url(RL_MODEL, outcome.version)),
    })
