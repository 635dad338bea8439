"""Schedules and sensors: the market scan, the universe sensor, retraining, online learning,
the champion sensor and the agent's retraining on a new champion."""

import dagster as dg

from market.chain import ProviderChain
from market.universe import INTRADAY, Series
from pipelines.bootstrap import waiting
from pipelines.jobs import Jobs
from resources.partitions import known_keys, partition_key, series_partitions
from resources.tags import RETRAIN_REASON
from training.recorder import FUSED_MODEL, RL_MODEL, Recorder, TrackingError, Version
from training.retraining import retrain_reasons
from tx.settings import Settings


def current_universe(settings: Settings) -> list[Series]:
    """The universe of the settings, over the series the providers serve now (files come and go)."""
    return ProviderChain.from_config(settings.market_config()).universe(settings.universe)


def _scan(context: dg.ScheduleEvaluationContext, settings: Settings, timeframes: tuple[str, ...]) -> list[dg.RunRequest] | dg.SkipReason:
    if skip := waiting(context.instance):
        return skip
    known = known_keys(context.instance)
    series = [s for s in current_universe(settings) if s.timeframe in timeframes and partition_key(s) in known]
    if not series:
        return dg.SkipReason(f"no {'/'.join(timeframes)} series in the universe yet (the universe sensor registers them)")
    tick = context.scheduled_execution_time.isoformat()
    return [dg.RunRequest(run_key=f"{s}@{tick}", partition_key=partition_key(s), tags={"tx/scan": "market"}) for s in series]


def schedules(settings: Settings, jobs: Jobs) -> list[dg.ScheduleDefinition]:
    """The market scans and refreshes, and the platform's own clocks (training_schedules)."""

    @dg.schedule(
        cron_schedule="*/5 * * * *",
        job=jobs.series_pipeline,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Market scan, intraday: every 5 minutes, fetch new bars of every intraday series.",
    )
    def intraday_scan(context: dg.ScheduleEvaluationContext):
        return _scan(context, settings, INTRADAY)

    @dg.schedule(
        cron_schedule="30 16 * * 1-5",
        execution_timezone="America/New_York",
        job=jobs.series_pipeline,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Market scan, daily: 16:30 New York time on weekdays, after the US close.",
    )
    def daily_scan(context: dg.ScheduleEvaluationContext):
        return _scan(context, settings, ("1d", "1w"))

    base_rates_refresh = _schedule("base_rates_refresh", jobs.base_rates_job, "0 17 * * 1-5",
                                   "Refresh the patterns' pooled base rates after the daily scan (17:00 New York, weekdays).",
                                   "America/New_York")
    universe_refresh = _schedule("universe_refresh", jobs.universe_pipeline, "15 17 * * 1-5",
                                 "Refresh the universe-wide views (coverage, pattern heatmap) after the base rates.", "America/New_York")
    return [intraday_scan, daily_scan, base_rates_refresh, universe_refresh, *training_schedules(settings, jobs)]


def _schedule(name: str, job, cron: str, description: str, timezone: str = "UTC") -> dg.ScheduleDefinition:
    def evaluate(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        return waiting(context.instance) or dg.RunRequest()

    return dg.ScheduleDefinition(name=name, job=job, cron_schedule=cron, execution_timezone=timezone, execution_fn=evaluate,
                                 default_status=dg.DefaultScheduleStatus.RUNNING, description=description)


def training_schedules(settings: Settings, jobs: Jobs) -> list[dg.ScheduleDefinition]:
    """Retraining, online learning, the alert scanner, monitoring, news ingestion and the
    nightly backtests, on the crons of the settings (TX_TRAIN_CRON, TX_ONLINE_CRON,
    TX_ALERT_CRON, TX_DRIFT_CRON, TX_NEWS_CRON, TX_BACKTEST_CRON, TX_RL_CRON), in UTC."""
    return [
        _schedule("model_monitoring", jobs.monitoring_job, settings.drift_cron,
             "Drift report and live performance of the served model; retrain_on_drift reads them."),
        _schedule("news_ingest", jobs.news_job, settings.news_cron,
             "New news and social items of the stored symbols, scored and stored for the sentiment layer."),
        _schedule("nightly_backtests", jobs.backtest_job, settings.backtest_cron,
             "Pattern, strategy and walk-forward backtests of every stored series, with plots in Dagster and MLflow."),
        _schedule("alert_scanner", jobs.alert_job, settings.alert_cron,
             "Score every stored series with the champion; confident calls become de-duplicated alerts."),
        _schedule("retraining", jobs.training_job, settings.train_cron,
             "Retrain the fused predictor on everything stored; the gate decides whether it becomes champion."),
        _schedule("rl_training", jobs.rl_job, settings.rl_cron,
             "Retrain the RL agent on the newest fused version's out-of-fold outputs (after the nightly retraining); its own "
             "gate decides whether it becomes champion. Skips when it already learned from that version."),
        _schedule("online_learning", jobs.online_job, settings.online_cron,
             "Fold newly matured labels into the online line, the newest version (every 180 s by default); skips when "
             "none matured."),
    ]


def recorded_champion(instance: dg.DagsterInstance) -> str | None:
    """The champion version the latest champion_model materialization recorded."""
    event = instance.get_latest_materialization_event(dg.AssetKey("champion_model"))
    value = event.asset_materialization.metadata.get("version") if event and event.asset_materialization else None
    return getattr(value, "value", None)


EVERY_MINUTE = {"minimum_interval_seconds": 60, "default_status": dg.DefaultSensorStatus.RUNNING}  # every sensor: on from the start


def sensors(settings: Settings, jobs: Jobs) -> list[dg.SensorDefinition]:
    """The universe sensor, the champion sensors (backtests, the agent) and retraining on drift."""

    def champion_of(context: dg.SensorEvaluationContext) -> tuple[Recorder, Version] | dg.SkipReason:
        """The tx-fused champion, or why a champion sensor skips this tick."""
        if skip := waiting(context.instance):
            return skip
        try:
            recorder = Recorder(settings.tracking_uri)
            champion = recorder.champion()
        except TrackingError as exc:
            return dg.SkipReason(f"MLflow unreachable: {exc}")
        if champion is None:
            return dg.SkipReason(f"{FUSED_MODEL} has no champion yet")
        return recorder, champion

    @dg.sensor(
        job=jobs.series_pipeline,
        **EVERY_MINUTE,
        description="Keeps the `series` partitions in step with TX_UNIVERSE (each series of it is one; a series that "
        "leaves keeps its partition) and materializes every series of it that has no candles yet (a new symbol, or a new "
        "timeframe of a known one).",
    )
    def universe_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        if skip := waiting(context.instance):
            return skip
        universe = current_universe(settings)
        done = context.instance.get_materialized_partitions(dg.AssetKey("candles"))
        new = [s for s in universe if partition_key(s) not in done]
        # Registered whether or not they have candles: an instance from before the series partitions has candles
        # but no partitions, and the scans run only registered series.
        unregistered = sorted({partition_key(s) for s in universe} - known_keys(context.instance))
        if not new and not unregistered:
            return dg.SkipReason(f"every series of the universe has candles ({len(universe)} series)")
        # One run key per series: a series whose first run failed is not retried every minute.
        requests = [dg.RunRequest(run_key=f"universe:{s}", partition_key=partition_key(s)) for s in new]
        adds = [series_partitions.build_add_request(unregistered)] if unregistered else []
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=adds)

    @dg.sensor(
        job=jobs.champion_job,
        **EVERY_MINUTE,
        description="Watches the `champion` alias of tx-fused in MLflow; a new champion materializes champion_model "
        "and reruns the backtests.",
    )
    def champion_sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        found = champion_of(context)
        if isinstance(found, dg.SkipReason):
            return found
        version = str(found[1].version)
        if context.cursor == version:
            return dg.SkipReason(f"the champion is still version {version}")
        context.update_cursor(version)
        if recorded_champion(context.instance) == version:  # e.g. the pipeline of `tx run` ran champion_job already
            return dg.SkipReason(f"champion_model already records version {version} and its backtests")
        return dg.RunRequest(run_key=f"champion-{version}", tags={"tx/champion": version})

    @dg.sensor(
        job=jobs.rl_job,
        **EVERY_MINUTE,
        description="Watches the `champion` alias of tx-fused: the RL agent learns anew from a new champion's out-of-fold "
        "outputs (rl_job), unless the newest tx-rl already learned from that version.",
    )
    def rl_on_champion(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        found = champion_of(context)
        if isinstance(found, dg.SkipReason):
            return found
        recorder, champion = found
        version = str(champion.version)
        try:
            newest = recorder.newest(RL_MODEL)
        except TrackingError as exc:
            return dg.SkipReason(f"MLflow unreachable: {exc}")
        if newest is not None and newest.tags.get("tx.fused_version") == version:
            return dg.SkipReason(f"{RL_MODEL} v{newest.version} already learned from {FUSED_MODEL} v{version}")
        return dg.RunRequest(run_key=f"rl-on-champion-{version}", tags={"tx/champion": version})

    @dg.asset_sensor(
        asset_key=dg.AssetKey("model_drift"),
        job=jobs.training_job,
        **EVERY_MINUTE,
        description="After each drift report: retrain when the drifted share reaches TX_DRIFT_SHARE_MAX or the live AUC "
        "falls below TX_LIVE_AUC_MIN (with TX_LIVE_MIN_MATURED predictions judged); the reason is the run's tx/retrain_reason tag.",
    )
    def retrain_on_drift(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> dg.RunRequest | dg.SkipReason:
        if skip := waiting(context.instance):
            return skip
        materialization = asset_event.asset_materialization
        metadata = {k: getattr(v, "value", v) for k, v in (materialization.metadata if materialization else {}).items()}
        if "skipped" in metadata:
            return dg.SkipReason(f"no drift report: {metadata['skipped']}")
        reasons = retrain_reasons(metadata, drift_share_max=settings.drift_share_max, live_auc_min=settings.live_auc_min,
                                  live_min_matured=settings.live_min_matured)
        if not reasons:
            return dg.SkipReason(f"within limits: drift share {metadata.get('drift_share', 0):.0%}, live AUC {metadata.get('live_auc')} "
                                 f"over {metadata.get('live_matured', 0)} matured predictions")
        return dg.RunRequest(run_key=f"drift-{asset_event.run_id}",
                             tags={RETRAIN_REASON: "; ".join(reasons)[:4000], "tx/triggered_by": "retrain_on_drift",
                                   "tx/model_version": str(metadata.get("model_version", ""))})

    return [universe_sensor, champion_sensor, rl_on_champion, retrain_on_drift]
