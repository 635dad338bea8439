"""Model monitoring: feature drift against what the served model learned from (an evidently
report, kept in MLflow), and its live performance on the predictions it served.

The `retrain_on_drift` sensor (pipelines/automation.py) reads this asset's figures and asks
for a retraining run, with the reason as a run tag, when drift or decay passes the limits.
"""

import time

import dagster as dg
import pandas as pd

from market.universe import choose_series
from resources.partitions import ALL_PARTITIONS, series_from_key, str_key
from resources.stores import AppDatabase, MlflowTracking
from store.candles import load_candles
from store.predictions import load_predictions
from training.drift import data_drift, split_windows
from training.live import judged_by_labels, performance
from training.recorder import FUSED_MODEL, Recorder
from training.report import DRIFT_REPORT, log_monitoring


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
    started = time.time()  # the MLflow run spans the check, not only its logging
    recorder = Recorder(mlflow_tracking.tracking_uri)
    version = recorder.champion() or recorder.newest()
    if version is None:
        return dg.MaterializeResult(metadata={"skipped": dg.MetadataValue.text(f"no {FUSED_MODEL} version yet: train one first")})
    model = recorder.load(version.version)
    cutoff = pd.Timestamp(model.knowledge_cutoff) if model.knowledge_cutoff else None
    chosen = choose_series([series_from_key(k) for k in features], config.timeframes)
    pairs = [split_windows(features[str_key(s)], cutoff, config.reference_bars, config.current_bars) for s in chosen]
    drift = data_drift(pd.concat([r for r, _ in pairs]), pd.concat([c for _, c in pairs]))

    engine = app_db.engine
    served = load_predictions(engine, FUSED_MODEL)
    live = performance(judged_by_labels(served, model.label_config, lambda s, tf: load_candles(engine, s, tf))) if len(served) else {}
    figures = {"drift_share": drift.share, "drifted_columns": len(drift.drifted), "columns_compared": len(drift.columns),
               "live_matured": live.get("matured", 0), "live_auc": live.get("auc"), "live_hit_rate": live.get("hit_rate")}

    run_id, experiment_id = log_monitoring(
        version.version, tracking_uri=mlflow_tracking.tracking_uri, artifact_root=mlflow_tracking.artifact_root,
        knowledge_cutoff=model.knowledge_cutoff, figures=figures, report_html=drift.html, columns=drift.columns,
        params={"reference_bars": config.reference_bars, "current_bars": config.current_bars,
                "series": ",".join(f"{s.symbol}:{s.timeframe}" for s in chosen)}, started=started)
    run_url = mlflow_tracking.run_url(experiment_id, run_id)
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
        "drift_report": dg.MetadataValue.url(f"{run_url}/artifacts/{DRIFT_REPORT}"),
        "mlflow_run": dg.MetadataValue.url(run_url),
        "mlflow_run_id": dg.MetadataValue.text(run_id),
    })
