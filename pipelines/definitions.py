"""The Dagster `Definitions` of TX, loaded by workspace.yaml (`pipelines.definitions`)."""

import dagster as dg

from assets.candles import candles
from pipelines.partitions import series_partitions
from pipelines.resources import AppDatabase, MarketData
from tx.settings import Settings, load_settings

# Assets materialized per (symbol, timeframe) partition, in dependency order.
SERIES_ASSETS = [candles]

series_pipeline = dg.define_asset_job(
    "series_pipeline",
    selection=dg.AssetSelection.assets(*SERIES_ASSETS),
    partitions_def=series_partitions,
    description="Every per-series stage for one (symbol, timeframe) partition; `make demo` runs it for the whole universe.",
)


def resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    return {
        "app_db": AppDatabase(url=settings.app_database_url),
        "market": MarketData(data_dir=str(settings.data_dir) if settings.data_dir else None),
    }


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=SERIES_ASSETS,
        jobs=[series_pipeline],
        resources=resources(settings or load_settings()),
    )


defs = build_definitions()
