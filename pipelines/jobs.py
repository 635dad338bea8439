"""Jobs: what `make demo` runs, per series and then across the universe.

Built from the settings (`build_jobs`): each job's default run config is the settings'
values for its assets (pipelines/run_config.py), whoever launches it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import dagster as dg

from assets.alerts import alert_scan, bar_score
from assets.backtests import pattern_backtest, strategy_backtest, walk_forward_backtest
from assets.candles import candles
from assets.coverage import data_coverage
from assets.features import features, labels, pattern_base_rates, pattern_heatmap, patterns
from assets.monitoring import model_drift
from assets.sentiment import news
from assets.training import champion_model, fused_model, online_model, rl_policy
from pipelines.run_config import run_config
from resources.partitions import series_partitions
from tx.settings import Settings

if TYPE_CHECKING:  # what define_asset_job returns; dagster does not export its name
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

# What `make demo` runs, in this order: candles per series; the patterns' base rates over
# the universe; features, patterns and labels per series; then the universe-wide views.
CANDLE_ASSETS = [candles]
BASE_ASSETS = [pattern_base_rates]
FEATURE_ASSETS = [features, patterns, labels]
LIVE_ASSETS = [bar_score]  # the scan scores each new bar once
UNIVERSE_ASSETS = [data_coverage, pattern_heatmap]
TRAINING_ASSETS = [fused_model]
RL_ASSETS = [rl_policy]  # the agent learns from the fused model's out-of-fold outputs
BACKTEST_ASSETS = [pattern_backtest, strategy_backtest, walk_forward_backtest]
BACKFILL_ASSETS = [*CANDLE_ASSETS, *BASE_ASSETS, *FEATURE_ASSETS]  # `tx backfill`, in one run per range of series
ALL_ASSETS = [*CANDLE_ASSETS, *BASE_ASSETS, *FEATURE_ASSETS, *LIVE_ASSETS, *UNIVERSE_ASSETS, news, *TRAINING_ASSETS, *RL_ASSETS, online_model, champion_model,
              model_drift, *BACKTEST_ASSETS, alert_scan]


@dataclass(frozen=True)
class Jobs:
    candles_job: UnresolvedAssetJobDefinition
    base_rates_job: UnresolvedAssetJobDefinition
    features_job: UnresolvedAssetJobDefinition
    series_pipeline: UnresolvedAssetJobDefinition
    universe_pipeline: UnresolvedAssetJobDefinition
    training_job: UnresolvedAssetJobDefinition
    rl_job: UnresolvedAssetJobDefinition
    online_job: UnresolvedAssetJobDefinition
    champion_job: UnresolvedAssetJobDefinition
    backtest_job: UnresolvedAssetJobDefinition
    alert_job: UnresolvedAssetJobDefinition
    news_job: UnresolvedAssetJobDefinition
    monitoring_job: UnresolvedAssetJobDefinition
    series_backfill: UnresolvedAssetJobDefinition

    def all(self) -> list[UnresolvedAssetJobDefinition]:
        return [getattr(self, f.name) for f in fields(self)]


def build_jobs(settings: Settings) -> Jobs:
    def job(name: str, assets: list[dg.AssetsDefinition], description: str, per_series: bool = False) -> UnresolvedAssetJobDefinition:
        return dg.define_asset_job(name, selection=dg.AssetSelection.assets(*assets), partitions_def=series_partitions if per_series else None,
                                   description=description, config=run_config(settings, [a.key.path[-1] for a in assets]) or None)

    return Jobs(
        candles_job=job("candles_job", CANDLE_ASSETS, "Fetch, check and store the candles of one (symbol, timeframe) partition "
                        "(`tx candles fetch`).", per_series=True),
        base_rates_job=job("base_rates_job", BASE_ASSETS, "The patterns' point-in-time global hit rates, pooled over every stored series."),
        features_job=job("features_job", FEATURE_ASSETS, "Features, pattern detections and labels of one (symbol, timeframe) partition.",
                         per_series=True),
        series_pipeline=job("series_pipeline", [*CANDLE_ASSETS, *FEATURE_ASSETS, *LIVE_ASSETS], "New candles and everything derived "
                            "from them for one partition: features, patterns, labels and the champion's score of the new bar (the "
                            "scans run it; confidences use the latest pattern_base_rates).", per_series=True),
        universe_pipeline=job("universe_pipeline", UNIVERSE_ASSETS, "Stages across the whole universe: coverage and the pattern heatmap "
                              "(the model, its backtests and monitoring have jobs of their own)."),
        training_job=job("training_job", TRAINING_ASSETS, "Train the fused predictor on the stored features and labels, register it "
                         "and run the promotion gate."),
        rl_job=job("rl_job", RL_ASSETS, "Train the RL agent walk-forward on the fused model's out-of-fold outputs, backtest it "
                   "out of sample and run its gate (skipped when the newest tx-rl already learned from that fused version)."),
        online_job=job("online_job", [online_model], "One online-learning step on the newly matured labels (the online schedule runs it)."),
        champion_job=job("champion_job", [champion_model, *BACKTEST_ASSETS], "Record the new champion and rerun the backtests "
                         "(the champion sensor runs it)."),
        backtest_job=job("backtest_job", BACKTEST_ASSETS, "Pattern, strategy and walk-forward backtests of the stored series "
                         "(nightly, and in `make demo`)."),
        alert_job=job("alert_job", [alert_scan], "The alert scanner: the champion's score of every stored series' latest bar "
                      "(stored ones reused); confident calls become alerts."),
        news_job=job("news_job", [news], "New news and social items of the stored symbols, scored and stored (the news_ingest "
                     "schedule runs it)."),
        monitoring_job=job("monitoring_job", [model_drift], "Drift report and live performance of the served model (the "
                           "model_monitoring schedule runs it; the retrain_on_drift sensor reads it)."),
        series_backfill=job("series_backfill", BACKFILL_ASSETS, "`tx backfill`: candles, the patterns' base rates, features, "
                            "patterns and labels of many series in one run (a partition key range; each asset's single-run "
                            "backfill policy), on the configured executor.", per_series=True),
    )
