"""The live scan's scoring: the champion scores each new bar once (`bar_score`, in the
market scan's per-series pipeline); the alert scanner passes over every stored series
(`alert_scan`), reusing those stored scores. Both go through trading/scan.py: the score is
stored, pushed to WebSocket subscribers (`score` event) and decides the alert,
de-duplicated in the database."""

import dagster as dg
import pandas as pd

from assets.candles import candles
from market.universe import Series, choose_series, timeframe_set
from resources.partitions import series_of, series_partitions
from resources.stores import AppDatabase, MlflowTracking
from store.candles import coverage
from store.types import iso
from trading.scan import Scanned, scan
from training import scoring
from training.threads import one_thread
from training.recorder import FUSED_MODEL, Recorder


class ScanConfig(dg.Config):
    timeframes: str = "1d"  # TX_TRAIN_TIMEFRAMES: the series the model was trained for ("" = every stored one)
    confidence: float = 0.85  # TX_ALERT_CONFIDENCE
    dedup_minutes: float = 10.0  # TX_ALERT_DEDUP_MINUTES


def _champion(tracking_uri: str) -> scoring.ModelAt | None:
    recorder = Recorder(tracking_uri)
    version = recorder.champion()
    return None if version is None else scoring.ModelAt(recorder.load(version.version), version.version)


def _row(done: Scanned) -> dict:
    alert = done.alert_id if done.alert_id is not None else ("de-duplicated" if done.alert else "")
    return {"series": f"{done.symbol}:{done.timeframe}", "as_of": iso(done.score.as_of), "p": done.score.probability, "direction": done.score.direction,
            "scored": "now" if done.scored_now else "stored", "alert": alert}


NO_CHAMPION = f"no {FUSED_MODEL} champion yet: nothing to score with"


@dg.asset(partitions_def=series_partitions, deps=[candles], group_name="alerts", kinds={"python", "sql"},
          description="The champion's score of the series' newest bar, computed once per bar and version: stored with the "
          "bar, pushed to the live feed (a `score` event) and made an alert when confident.")
def bar_score(context: dg.AssetExecutionContext, config: ScanConfig, app_db: AppDatabase, mlflow_tracking: MlflowTracking):
    series = series_of(context)
    wanted = timeframe_set(config.timeframes)
    if wanted is not None and series.timeframe not in wanted:
        return dg.MaterializeResult(metadata={"skipped": f"{series.timeframe} is not a served timeframe ({config.timeframes})"})
    champion = _champion(mlflow_tracking.tracking_uri)
    if champion is None:
        return dg.MaterializeResult(metadata={"skipped": NO_CHAMPION})
    with one_thread():
        done = scan(app_db.engine, champion, series.symbol, series.timeframe, FUSED_MODEL, config.confidence, config.dedup_minutes)
    if done is None:
        return dg.MaterializeResult(metadata={"skipped": f"{series} has fewer than {scoring.MIN_BARS} bars"})
    context.log.info(f"{series} at {iso(done.score.as_of)}: p={done.score.probability} ({'scored' if done.scored_now else 'already scored'} "
                     f"by v{champion.version})")
    return dg.MaterializeResult(metadata={"model_version": champion.version, **_row(done)})


@dg.asset(group_name="alerts", kinds={"python", "sql"},
          description="Passes over every stored series with the champion at its latest bar (scoring only bars not scored "
          "yet); confident calls become alerts.")
def alert_scan(context: dg.AssetExecutionContext, config: ScanConfig, app_db: AppDatabase, mlflow_tracking: MlflowTracking):
    champion = _champion(mlflow_tracking.tracking_uri)
    if champion is None:
        context.log.info(NO_CHAMPION)
        return dg.MaterializeResult(metadata={"scanned": 0, "alerts": 0, "note": NO_CHAMPION})
    engine = app_db.engine
    series = choose_series([Series(r.symbol, r.timeframe) for r in coverage(engine).itertuples()], config.timeframes)
    with one_thread():
        rows = [_row(done) for s in series
                if (done := scan(engine, champion, s.symbol, s.timeframe, FUSED_MODEL, config.confidence, config.dedup_minutes))]
    raised = sum(isinstance(r["alert"], int) for r in rows)
    context.log.info(f"scanned {len(rows)} series with {FUSED_MODEL} v{champion.version}: {raised} alert(s)")
    table = pd.DataFrame(rows)
    return dg.MaterializeResult(metadata={
        "model_version": champion.version, "scanned": len(rows), "alerts": raised, "threshold": config.confidence,
        "scored_now": int(sum(r["scored"] == "now" for r in rows)),
        "scan": dg.MetadataValue.md(table.to_markdown(index=False) if len(table) else "nothing stored to scan")})
