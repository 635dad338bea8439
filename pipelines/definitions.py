"""The Dagster `Definitions` of TX, loaded by workspace.yaml (`pipelines.definitions`).

Every Dagster process that loads them (code server, run workers) sets up logging and, with a
DSN, Sentry first (tx/observability.py).
"""

import dagster as dg

from pipelines.automation import (
    base_rates_refresh,
    champion_sensor,
    daily_scan,
    intraday_scan,
    retrain_on_drift,
    training_schedules,
    universe_refresh,
    universe_sensor,
)
from pipelines.io import ParquetFrames
from pipelines.observability import failure_sensors
from pipelines.jobs import (
    ALL_ASSETS,
    alert_job,
    backtest_job,
    base_rates_job,
    candles_job,
    champion_job,
    features_job,
    monitoring_job,
    news_job,
    online_job,
    series_pipeline,
    training_job,
    universe_pipeline,
)
from pipelines.resources import AppDatabase, MarketData, MlflowTracking, NewsFeeds
from tx import observability
from tx.settings import Settings, load_settings


def resources(settings: Settings) -> dict[str, dg.ConfigurableResource | dg.ConfigurableIOManagerFactory]:
    return {
        "app_db": AppDatabase(url=settings.app_database_url),
        "market": MarketData(
            providers=settings.providers,
            data_dir=str(settings.data_dir) if settings.data_dir else None,
            overlap_bars=settings.overlap_bars,
            max_gap_bars=settings.max_gap_bars,
            stale_bars=settings.stale_bars,
        ),
        "frames": ParquetFrames(base_path=str(settings.frames_dir)),
        "news_feeds": NewsFeeds(data_dir=str(settings.data_dir) if settings.data_dir else None, lookback_days=settings.news_lookback_days),
        "mlflow_tracking": MlflowTracking(tracking_uri=settings.tracking_uri, artifact_root=settings.mlflow_artifacts,
                                          threshold=settings.promotion_threshold, ui_url=f"http://{settings.host}:{settings.mlflow_port}"),
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    return dg.Definitions(
        assets=ALL_ASSETS,
        jobs=[series_pipeline, universe_pipeline, candles_job, base_rates_job, features_job, training_job, online_job, champion_job,
              alert_job, backtest_job, news_job, monitoring_job],
        schedules=[intraday_scan, daily_scan, base_rates_refresh, universe_refresh, *training_schedules(settings)],
        sensors=[universe_sensor, champion_sensor, retrain_on_drift, *failure_sensors(settings)],
        resources=resources(settings),
    )


defs = build_definitions(observability.setup("dagster", load_settings()))
