"""The Dagster `Definitions` of TX, loaded by workspace.yaml (`pipelines.definitions`)."""

import dagster as dg

from pipelines.automation import base_rates_refresh, daily_scan, intraday_scan, universe_refresh, universe_sensor
from pipelines.io import ParquetFrames
from pipelines.jobs import ALL_ASSETS, base_rates_job, candles_job, features_job, series_pipeline, universe_pipeline
from pipelines.resources import AppDatabase, MarketData
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
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=ALL_ASSETS,
        jobs=[series_pipeline, universe_pipeline, candles_job, base_rates_job, features_job],
        schedules=[intraday_scan, daily_scan, base_rates_refresh, universe_refresh],
        sensors=[universe_sensor],
        resources=resources(settings or load_settings()),
    )


defs = build_definitions()
