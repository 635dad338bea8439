"""What TX records in MLflow (through the recorder): the runs a model reviewer audits.

One run in experiment `tx-fused` per training: params; metrics (wf_auc and the rest, per
fold as steps); lineage tags; plots; the out-of-fold predictions; the pyfunc model with
signature and input example, registered as `tx-fused`. Nested under it: one run per layer
and one per tuning study, whose trials are child runs of their own. Beside it: a run of
`tx-online` per online step, of `tx-backtests` per backtest, of `tx-monitoring` per drift check.
"""

import hashlib
import json
import math
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from training import plots
from training.fit import LAYERS, TUNABLE, Chosen, Trained, scored
from training.online import prequential_curve
from training.promotion import WINDOW_TAG
from training.recorder import FUSED_MODEL, OOF_DIR, OOF_FILE, Recorder, Run
from training.windows import CHANNELS

EXPERIMENT = "tx-fused"
ONLINE_EXPERIMENT = "tx-online"
BACKTEST_EXPERIMENT = "tx-backtests"
MONITORING_EXPERIMENT = "tx-monitoring"
REQUIREMENTS = ("torch", "lightning", "scikit-learn", "imbalanced-learn", "pandas", "numpy", "TA-Lib", "numba",
                "vaderSentiment", "mlflow", "cloudpickle", "pyarrow", "tx-platform")
DRIFT_REPORT = "drift_report.html"  # the evidently report, at the root of a monitoring run's artifacts
# What a training run records of its tuning, so that later runs (the walk-forward backtest)
# can refit with the same hyper-parameters: per tunable layer a JSON param of the params the
# final model was built with ({}: the layer's defaults), and when the tuning samples ended.
TUNED_PARAM = "tuned.{layer}"
TUNED_BEFORE_TAG = "tx.tuned_before"
PARENT_VERSION_TAG = "tx.parent_version"  # an online step's run: the version it continued from


@dataclass(frozen=True)
class Logged:
    run_id: str
    experiment_id: str
    version: str  # of the registered model


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def feature_set_hash(columns: list[str], window: int, label_config: dict) -> str:
    spec = {"columns": sorted(columns), "window": window, "channels": list(CHANNELS), "labels": label_config}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _requirements() -> list[str]:
    pins = []
    for dist in REQUIREMENTS:
        try:
            pins.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            continue
    return pins


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)}


def _figure(run: Run, fig: plt.Figure, name: str) -> None:
    run.log_figure(fig, name)
    plt.close(fig)


def log_training(trained: Trained, *, tracking_uri: str, artifact_root: str, input_example: pd.DataFrame,
                 lineage: dict[str, str], threshold: float, experiment: str = EXPERIMENT,
                 registered_name: str = FUSED_MODEL, started: float | None = None) -> Logged:
    """Log `trained` as a new run and a new version of `registered_name` (never overwrites one).
    `started` (Unix seconds) is when the training began: the run spans it (default: now)."""
    recorder = Recorder(tracking_uri, artifact_root)
    model = trained.model
    tags = {WINDOW_TAG: trained.eval_window, "tx.git_commit": git_commit(), "tx.layers": ",".join(LAYERS),
            "tx.feature_set": feature_set_hash(list(model.layers["multitimeframe"].columns_), model.window, model.label_config),
            **{f"tx.note.{k}": v for k, v in trained.notes.items() if v}, **lineage}
    if trained.tuned_before is not None:
        tags[TUNED_BEFORE_TAG] = trained.tuned_before.isoformat()
    with recorder.run(experiment, f"fused {lineage.get('tx.data_end', '')}".strip(), tags, started) as run:
        run.log_params({f"train.{k}": v for k, v in asdict(trained.config).items()})
        run.log_params({f"labels.{k}": v for k, v in model.label_config.items()})
        run.log_params({f"{name}.{k}": v for name, layer in model.layers.items() for k, v in layer.params().items()})
        run.log_params({"gate.threshold": threshold, "stacker.C": model.stacker.C})
        run.log_params({TUNED_PARAM.format(layer=name): json.dumps(trained.best_params.get(name, {}), sort_keys=True) for name in TUNABLE})
        run.log_metrics(_finite(trained.metrics) | {f"seconds_{k}": v for k, v in trained.seconds.items()}
                        | {f"tuning_trials_{name}": len(trained.trials.get(name, [])) for name in TUNABLE}
                        | {f"stacker_weight_{k}": v for k, v in model.stacker.weights().items()})
        for row in trained.folds:
            run.log_metrics(_finite({k: v for k, v in row.items() if k.startswith("auc_")}), step=row["fold"])
        _log_plots(run, trained, threshold)
        with run.artifacts(OOF_DIR) as folder:
            trained.oof.to_parquet(folder / OOF_FILE)
            (folder / "folds.json").write_text(json.dumps(trained.folds, indent=1, default=str))
        for name, layer in model.layers.items():
            _log_layer(run, name, layer, trained)
        for name, trials in trained.trials.items():
            _log_study(run, name, trials, trained.best_params[name])
        version = log_model(run, model, input_example, registered_name)
    recorder.describe(registered_name, version, f"wf_auc {trained.metrics['wf_auc']:.4f} on {trained.eval_window}")
    return Logged(run.id, run.experiment_id, version)


def recorded_choice(tracking_uri: str, registered_name: str = FUSED_MODEL) -> Chosen | str:
    """The hyper-parameters the tuning of `registered_name`'s champion chose (else its newest
    version's), as its training run recorded them; an online step's are those of the version
    it continued from (it only updates the stacker). A reason, in words, when none are recorded."""
    recorder = Recorder(tracking_uri)
    champion = recorder.champion(registered_name)
    versions = recorder.versions_of(registered_name)
    if not versions:
        return f"no {registered_name} version yet"
    start, role = (champion, "champion") if champion is not None else (versions[0], "the newest version")
    by_number = {v.version: v for v in versions}
    version, path = start, []
    while version is not None and version.version not in path:
        path.append(version.version)
        run = recorder.read_run(version.run_id)
        params = {name: run.params.get(TUNED_PARAM.format(layer=name)) for name in TUNABLE}
        if all(p is not None for p in params.values()) and TUNED_BEFORE_TAG in run.tags:
            via = f"; its layers are those of v{version.version}" if version is not start else ""
            return Chosen({name: json.loads(p) for name, p in params.items()}, pd.Timestamp(run.tags[TUNED_BEFORE_TAG]),
                          f"{registered_name} v{start.version} ({role}{via}), training run {version.run_id}",
                          version=start.version, run_id=version.run_id)
        version = by_number.get(run.tags.get(PARENT_VERSION_TAG, ""))
    return (f"{registered_name} v{start.version} ({role}) has no recorded hyper-parameters (its training run predates "
            "their recording, or it is an online step of such a version)")


def log_model(run: Run, model, input_example: pd.DataFrame, registered_name: str = FUSED_MODEL) -> str:
    """Log the fused pyfunc (signature, input example, pinned requirements) in `run` and
    register it as a new version of `registered_name`; returns the version."""
    params = {"last_n": 0}
    return run.log_model(model, input_example=input_example, output=model.predict(None, input_example, params),
                         params=params, requirements=_requirements(), registered_name=registered_name)


def log_online(update, *, base_version: str, tracking_uri: str, artifact_root: str, input_example: pd.DataFrame,
               min_compared: int, experiment: str = ONLINE_EXPERIMENT, registered_name: str = FUSED_MODEL,
               started: float | None = None) -> Logged:
    """Log an online step as a run of `tx-online` and a new version of `registered_name`, with
    the line's prequential AUC over time as step metrics (`prequential_auc`, all samples so
    far; `prequential_auc_recent`, the last RECENT): step = samples scored, time = the bar of
    the last one. `started` (Unix seconds): when the step began (default: now)."""
    recorder = Recorder(tracking_uri, artifact_root)
    tags = {WINDOW_TAG: update.window, "tx.online": "true", PARENT_VERSION_TAG: base_version, "tx.git_commit": git_commit()}
    with recorder.run(experiment, f"online from v{base_version}", tags, started) as run:
        run.log_params({"base_version": base_version, "new_samples": update.new_samples, "min_compared": min_compared,
                        "half_life": update.half_life} | {f"new.{k}": v for k, v in update.per_series.items()})
        curve = prequential_curve(update.model.online)
        for key, column in (("prequential_auc", "auc"), ("prequential_auc_recent", "recent_auc")):
            run.log_steps(key, [(k, v, t) for k, v, t in zip(curve["samples"], curve[column], curve["time"], strict=True) if math.isfinite(v)])
        metrics = {"batch_auc": update.batch_auc, "history_auc": update.history_auc, "history_samples": update.history_samples}
        if update.history_samples >= min_compared:  # fewer: too noisy to put before the gate
            metrics["wf_auc"] = update.history_auc
        run.log_metrics(_finite(metrics) | {f"stacker_weight_{k}": v for k, v in update.model.stacker.weights().items()})
        version = log_model(run, update.model, input_example, registered_name)
    recorder.describe(registered_name, version, f"online step on v{base_version}: {update.new_samples} new samples")
    return Logged(run.id, run.experiment_id, version)


def _log_layer(parent: Run, name: str, layer, trained: Trained) -> None:
    with parent.child(f"layer {name}", {"tx.layer": name, "tx.note": layer.note}) as run:
        run.log_params(layer.params())
        run.log_metrics(_finite({"oof_auc": trained.metrics.get(f"auc_{name}", float("nan")),
                                 "seconds": trained.seconds.get(name, 0.0)}))
        for row in trained.folds:
            run.log_metrics(_finite({"fold_auc": row[f"auc_{name}"]}), step=row["fold"])


def _log_study(parent: Run, name: str, trials, best: dict) -> None:
    with parent.child(f"tune {name}", {"tx.layer": name, "tx.study": "optuna TPE"}) as run:
        run.log_params({f"best.{k}": v for k, v in best.items()} | {"trials": len(trials)})
        run.log_metrics({"best_inner_auc": max(t.value for t in trials)})
        for t in trials:
            with run.child(f"{name} trial {t.number}", {"tx.layer": name}) as trial:
                trial.log_params(t.params)
                trial.log_metrics(_finite({"inner_auc": t.value} | {f"inner_auc_fold_{i}": v for i, v in enumerate(t.fold_values)}))


def _log_plots(run: Run, trained: Trained, threshold: float) -> None:
    evaluated = scored(trained.oof)
    y, p = evaluated["y"].to_numpy(), evaluated["fused"].to_numpy()
    _figure(run, plots.roc(evaluated, {"fused": "fused"} | {name: f"p_{name}" for name in LAYERS},
                           f"ROC, out of fold (wf_auc {trained.metrics['wf_auc']:.3f})"), "plots/roc.png")
    _figure(run, plots.calibration(y, p, "calibration of the fused model, out of fold"), "plots/calibration.png")
    _figure(run, plots.confusion(y, p, "confusion at p >= 0.5, out of fold"), "plots/confusion_matrix.png")
    _figure(run, plots.fold_auc(pd.DataFrame(trained.folds), ["auc_fused", *[f"auc_{n}" for n in LAYERS]], threshold), "plots/fold_auc.png")
    weights = pd.Series(trained.model.stacker.weights())
    _figure(run, plots.bars(weights, "stacker weight per layer (log-odds)", "weight"), "plots/layer_weights.png")
    if trained.importance is not None and len(trained.importance):
        _figure(run, plots.bars(trained.importance, "multi-timeframe features: AUC lost when shuffled (last fold)", "AUC drop"),
                "plots/feature_importance.png")


@dataclass(frozen=True)
class Window:
    """A child run of a backtest: one walk-forward window."""

    name: str
    params: dict
    metrics: dict


def log_backtest(name: str, *, tracking_uri: str, artifact_root: str, params: dict, metrics: dict, tags: dict[str, str],
                 figures: dict[str, plt.Figure], tables: dict[str, pd.DataFrame], windows: list[Window] = (),
                 started: float | None = None) -> tuple[str, str]:
    """One run in experiment `tx-backtests` (plots and tables as artifacts), with a nested
    run per walk-forward window; returns (run id, experiment id). `started` (Unix seconds):
    when the backtest (a walk-forward's retraining included) began (default: now)."""
    with Recorder(tracking_uri, artifact_root).run(BACKTEST_EXPERIMENT, name, tags | {"tx.git_commit": git_commit()}, started) as run:
        run.log_params({k: str(v) for k, v in params.items()})
        run.log_metrics(_finite(metrics))
        for file, fig in figures.items():
            _figure(run, fig, f"plots/{file}")
        with run.artifacts("tables") as folder:
            for file, table in tables.items():
                table.to_csv(folder / file, index=False)
        for window in windows:
            with run.child(window.name, tags) as child:
                child.log_params({k: str(v) for k, v in window.params.items()})
                child.log_metrics(_finite(window.metrics))
    return run.id, run.experiment_id


def log_monitoring(model_version: str, *, tracking_uri: str, artifact_root: str, knowledge_cutoff: str | None,
                   params: dict, figures: dict[str, float | None], report_html: str, columns: pd.DataFrame,
                   started: float | None = None) -> tuple[str, str]:
    """One run in experiment `tx-monitoring` per drift check of `model_version`: its figures
    as metrics, the evidently report and the per-column table as artifacts; returns
    (run id, experiment id). `started` (Unix seconds): when the check began (default: now)."""
    tags = {"tx.model_version": model_version, "tx.knowledge_cutoff": knowledge_cutoff or ""}
    name = f"drift v{model_version} {datetime.now(UTC):%Y-%m-%d %H:%M}"
    with Recorder(tracking_uri, artifact_root).run(MONITORING_EXPERIMENT, name, tags, started) as run:
        run.log_params(params)
        run.log_metrics({k: float(v) for k, v in figures.items() if v is not None})
        with run.artifacts() as folder:
            (folder / DRIFT_REPORT).write_text(report_html)
            columns.to_csv(folder / "drift_columns.csv", index=False)
    return run.id, run.experiment_id
