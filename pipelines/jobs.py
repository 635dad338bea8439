"""Jobs: what `make demo` runs, per series and then across the universe."""

import dagster as dg

from assets.candles import candles
from assets.coverage import data_coverage
from assets.features import features, labels, pattern_heatmap, patterns
from pipelines.partitions import series_partitions

# Assets materialized per (symbol, timeframe) partition, then across the whole universe.
SERIES_ASSETS = [candles, features, patterns, labels]
UNIVERSE_ASSETS = [data_coverage, pattern_heatmap]

series_pipeline = dg.define_asset_job(
    "series_pipeline",
    selection=dg.AssetSelection.assets(*SERIES_ASSETS),
    partitions_def=series_partitions,
    description="Every per-series stage for one (symbol, timeframe) partition; `make demo` runs it for the whole universe.",
)
universe_pipeline = dg.define_asset_job(
    "universe_pipeline",
    selection=dg.AssetSelection.assets(*UNIVERSE_ASSETS),
    description="Stages across the whole universe (coverage, and later models and backtests).",
)
candles_job = dg.define_asset_job(
    "candles_job",
    selection=dg.AssetSelection.assets(candles),
    partitions_def=series_partitions,
    description="Fetch, check and store the candles of one (symbol, timeframe) partition (`tx candles fetch`).",
)
