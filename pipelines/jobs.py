"""Jobs: what `make demo` runs, per series and then across the universe."""

import dagster as dg

from assets.alerts import alert_scan
from assets.backtests import pattern_backtest, strategy_backtest, walk_forward_backtest
from assets.candles import candles
from assets.coverage import data_coverage
from assets.features import features, labels, pattern_base_rates, pattern_heatmap, patterns
from assets.monitoring import model_drift
from assets.sentiment import news
from assets.training import champion_model, fused_model, online_model
from pipelines.partitions import series_partitions

# What `make demo` runs, in this order: candles per series; the patterns' base rates over
# the universe; features, patterns and labels per series; then the universe-wide views.
CANDLE_ASSETS = [candles]
BASE_ASSETS = [pattern_base_rates]
FEATURE_ASSETS = [features, patterns, labels]
UNIVERSE_ASSETS = [data_coverage, pattern_heatmap]
TRAINING_ASSETS = [fused_model]
BACKTEST_ASSETS = [pattern_backtest, strategy_backtest, walk_forward_backtest]
ALL_ASSETS = [*CANDLE_ASSETS, *BASE_ASSETS, *FEATURE_ASSETS, *UNIVERSE_ASSETS, news, *TRAINING_ASSETS, online_model, champion_model,
              model_drift, *BACKTEST_ASSETS, alert_scan]

candles_job = dg.define_asset_job(
    "candles_job",
    selection=dg.AssetSelection.assets(*CANDLE_ASSETS),
    partitions_def=series_partitions,
    description="Fetch, check and store the candles of one (symbol, timeframe) partition (`tx candles fetch`).",
)
base_rates_job = dg.define_asset_job(
    "base_rates_job",
    selection=dg.AssetSelection.assets(*BASE_ASSETS),
    description="The patterns' point-in-time global hit rates, pooled over every stored series.",
)
features_job = dg.define_asset_job(
    "features_job",
    selection=dg.AssetSelection.assets(*FEATURE_ASSETS),
    partitions_def=series_partitions,
    description="Features, pattern detections and labels of one (symbol, timeframe) partition.",
)
series_pipeline = dg.define_asset_job(
    "series_pipeline",
    selection=dg.AssetSelection.assets(*CANDLE_ASSETS, *FEATURE_ASSETS),
    partitions_def=series_partitions,
    description="New candles and everything derived from them for one partition (the scans run it; "
    "confidences use the latest pattern_base_rates).",
)
universe_pipeline = dg.define_asset_job(
    "universe_pipeline",
    selection=dg.AssetSelection.assets(*UNIVERSE_ASSETS),
    description="Stages across the whole universe (coverage, the pattern heatmap; later models and backtests).",
)
training_job = dg.define_asset_job(
    "training_job",
    selection=dg.AssetSelection.assets(*TRAINING_ASSETS),
    description="Train the fused predictor on the stored features and labels, register it and run the promotion gate.",
)
online_job = dg.define_asset_job(
    "online_job",
    selection=dg.AssetSelection.assets(online_model),
    description="One online-learning step on the newly matured labels (the online schedule runs it).",
)
champion_job = dg.define_asset_job(
    "champion_job",
    selection=dg.AssetSelection.assets(champion_model, *BACKTEST_ASSETS),
    description="Record the new champion and rerun the backtests (the champion sensor runs it).",
)
backtest_job = dg.define_asset_job(
    "backtest_job",
    selection=dg.AssetSelection.assets(*BACKTEST_ASSETS),
    description="Pattern, strategy and walk-forward backtests of the stored series (nightly, and in `make demo`).",
)
alert_job = dg.define_asset_job(
    "alert_job",
    selection=dg.AssetSelection.assets(alert_scan),
    description="The alert scanner: the champion scores every stored series; confident calls become alerts.",
)
news_job = dg.define_asset_job(
    "news_job",
    selection=dg.AssetSelection.assets(news),
    description="New news and social items of the stored symbols, scored and stored (the news_ingest schedule runs it).",
)
monitoring_job = dg.define_asset_job(
    "monitoring_job",
    selection=dg.AssetSelection.assets(model_drift),
    description="Drift report and live performance of the served model (the model_monitoring schedule runs it; "
    "the retrain_on_drift sensor reads it).",
)
