"""The alert scanner: the champion scores every stored series at its latest bar; confident
calls become alerts (trading/alerts.py), de-duplicated in the database, pushed to
WebSocket subscribers through the events log."""

import dagster as dg
import pandas as pd

from features.sentiment import scores_of
from market.universe import Series, choose_series
from resources.stores import AppDatabase, MlflowTracking
from store.candles import coverage, load_candles
from store.news import load_news
from store.types import iso
from training import scoring
from training.recorder import FUSED_MODEL, Recorder
from trading.alerts import record



class ScanConfig(dg.Config):
    timeframes: str = "1d"  # TX_TRAIN_TIMEFRAMES: the series the model was trained for ("" = every stored one)
    confidence: float = 0.85  # TX_ALERT_CONFIDENCE
    dedup_minutes: float = 10.0  # TX_ALERT_DEDUP_MINUTES


@dg.asset(group_name="alerts", kinds={"python", "sql"},
          description="Scores every stored series with the champion at its latest bar; confident calls become alerts.")
def alert_scan(context: dg.AssetExecutionContext, config: ScanConfig, app_db: AppDatabase, mlflow_tracking: MlflowTracking):
    recorder = Recorder(mlflow_tracking.tracking_uri)
    version = recorder.champion()
    if version is None:
        context.log.info(f"{FUSED_MODEL} has no champion yet: nothing to scan with")
        return dg.MaterializeResult(metadata={"scanned": 0, "alerts": 0, "note": f"no {FUSED_MODEL} champion yet"})
    champion = scoring.ModelAt(recorder.load(version.version), version.version)
    engine = app_db.engine
    stored = coverage(engine)
    series = choose_series([Series(r.symbol, r.timeframe) for r in stored.itertuples()], config.timeframes)
    rows, raised = [], 0
    for s in series:
        candles = load_candles(engine, s.symbol, s.timeframe, last=scoring.HISTORY_BARS)
        if len(candles) < scoring.MIN_BARS:
            continue
        score = scoring.score(champion, candles, s.timeframe, scores_of(load_news(engine, s.symbol)))
        alert_id, alert = record(engine, s.symbol, s.timeframe, score, config.confidence, config.dedup_minutes, FUSED_MODEL)
        raised += alert_id is not None
        rows.append({"series": str(s), "as_of": iso(score.as_of), "p": score.probability, "direction": score.direction,
                     "alert": alert_id if alert_id is not None else ("de-duplicated" if alert else "")})
    context.log.info(f"scanned {len(rows)} series with {FUSED_MODEL} v{champion.version}: {raised} alert(s)")
    table = pd.DataFrame(rows)
    return dg.MaterializeResult(metadata={
        "model_version": champion.version, "scanned": len(rows), "alerts": raised, "threshold": config.confidence,
        "scan": dg.MetadataValue.md(table.to_markdown(index=False) if len(table) else "nothing stored to scan")})
