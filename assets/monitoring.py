"""Model monitoring: feature drift against what the served model learned from (an evidently
report, kept in MLflow), and its live performance on the predictions it served.

The `retrain_on_drift` sensor (pipelines/automation.py) reads this asset's figures and asks
for a retraining run, with the reason as a run tag, when drift or decay passes the limits.
"""

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import mlflow
import pandas as pd

from market.universe import choose_series
from resources.partitions import ALL_PARTITIONS, series_from_key
from resources.stores import AppDatabase, MlflowTracking
from store.candles import load_candles
from store.predictions import load_predictions
from training.drift import data_drift, split_windows
from training.live import judged_by_labels, performance
from training.pipeline import load_version
from training.report import MONITORING_EXPERIMENT, open_experiment
from training.tracking import FUSED_MODEL, champion_version, client, newest_version

REPORT = "drift_report.html"


class DriftConfig(dg.Config):
    timeframes: str = "1d"  # TX_TRAIN_TIMEFRAMES
    reference_bars: int = 500  # TX_DRIFT_REFERENCE_BARS
    current_bars: int = 120  # TX_DRIFT_CURRENT_BARS


@dg.asset(
    ins={"features": ALL_PARTITIONS},
    group_name="monitoring",
    kinds={"evidently", "mlflow"},
    description="Feature drift of the served model (evidently: its training window against the latest bars; the HTML "
    "report in MLflow) and its live performance on matured served predictions. The retrain_on_drift sensor watches it.",
)
def model_drift(context: dg.AssetExecutionContext, config: DriftConfig, app_db: AppDatabase, mlflow_tracking: MlflowTracking,
                features: dict[str, pd.DataFrame]) -> dg.MaterializeResult:
    mlflow_client = client(mlflow_tracking.tracking_uri)
    version = champion_version(mlflow_client) or newest_version(mlflow_client)
    if version is None:
        return dg.MaterializeResult(metadata={"skipped": dg.MetadataValue.text(f"no {FUSED_MODEL} version yet: train one first")})
    model = load_version(mlflow_tracking.tracking_uri, str(version.version))
    cutoff = pd.Timestamp(model.knowledge_cutoff) if model.knowledge_cutoff else None
    chosen = choose_series([series_from_key(k) for k in features], config.timeframes)
    pairs = [split_windows(features[f"{s.symbol}|{s.timeframe}"], cutoff, config.reference_bars, config.current_bars) for s in chosen]
    drift = data_drift(pd.concat([r for r, _ in pairs]), pd.concat([c for _, c in pairs]))

    engine = app_db.engine
    served = load_predictions(engine, FUSED_MODEL)
    live = performance(judged_by_labels(served, model.label_config, lambda s, tf: load_candles(engine, s, tf))) if len(served) else {}
    figures = {"drift_share": drift.share, "drifted_columns": len(drift.drifted), "columns_compared": len(drift.columns),
               "live_matured": live.get("matured", 0), "live_auc": live.get("auc"), "live_hit_rate": live.get("hit_rate")}

    _, experiment = open_experiment(mlflow_tracking.tracking_uri, mlflow_tracking.artifact_root, MONITORING_EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment.experiment_id, run_name=f"drift v{version.version} {datetime.now(UTC):%Y-%m-%d %H:%M}",
                          tags={"tx.model_version": str(version.version), "tx.knowledge_cutoff": model.knowledge_cutoff or ""}) as run:
        mlflow.log_params({"reference_bars": config.reference_bars, "current_bars": config.current_bars,
                           "series": ",".join(f"{s.symbol}:{s.timeframe}" for s in chosen)})
        mlflow.log_metrics({k: float(v) for k, v in figures.items() if v is not None})
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / REPORT).write_text(drift.html)
            drift.columns.to_csv(Path(tmp) / "drift_columns.csv", index=False)
            mlflow.log_artifacts(tmp)
    run_url = mlflow_tracking.run_url(experiment.experiment_id, run.info.run_id)
    context.log.info(f"drift share {drift.share:.2f} ({len(drift.drifted)}/{len(drift.columns)} columns); live {live.get('auc')}")
    return dg.MaterializeResult(metadata={
        "model_version": dg.MetadataValue.text(str(version.version)),
        "drift_share": dg.MetadataValue.float(drift.share),
        "drifted_columns": dg.MetadataValue.json(drift.drifted),
        "columns_compared": dg.MetadataValue.int(len(drift.columns)),
        "windows": dg.MetadataValue.text(f"reference: {drift.reference_rows} rows up to {cutoff or 'the last bars'}; "
                                         f"current: the last {config.current_bars} bars of {len(chosen)} series"),
        "live_matured": dg.MetadataValue.int(int(figures["live_matured"])),
        "live_auc": dg.MetadataValue.float(float(figures["live_auc"]) if figures["live_auc"] is not None else float("nan")),
        "live_hit_rate": dg.MetadataValue.float(float(figures["live_hit_rate"]) if figures["live_hit_rate"] is not None else float("nan")),
        "drift_report": dg.MetadataValue.url(f"{run_url}/artifacts/{REPORT}"),
        "mlflow_run": dg.MetadataValue.url(run_url),
        "mlflow_run_id": dg.MetadataValue.text(run.info.run_id),
    })
