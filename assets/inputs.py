"""What the universe-wide model assets read: every stored series' features and labels.

Shared by training, backtests and monitoring, so that none of them imports another asset
module for its utilities.
"""

import dagster as dg
import pandas as pd

from features.sentiment import scores_of
from market.universe import choose_series, timeframe_set
from resources.partitions import ALL_PARTITIONS, series_from_key, str_key
from resources.stores import AppDatabase
from store.candles import load_candles
from store.news import load_news
from training.pipeline import SeriesData

TRAINING_INS = {"features": ALL_PARTITIONS, "labels": ALL_PARTITIONS, "pattern_base_rates": dg.AssetIn()}  # every stored series


def stored_series(context: dg.AssetExecutionContext, app_db: AppDatabase, features: dict[str, pd.DataFrame],
                  labels: dict[str, pd.DataFrame], timeframes: str) -> list[SeriesData]:
    """The stored series of the wanted timeframes (every one when none has them) with their
    candles, features, labels and news, checked to line up."""
    available = [series_from_key(key) for key in sorted(set(features) & set(labels))]
    if not available:
        raise dg.Failure("no stored features and labels: materialize them first")
    chosen = choose_series(available, timeframes)
    wanted = timeframe_set(timeframes)
    if wanted and not any(s.timeframe in wanted for s in available):
        context.log.warning(f"no series of timeframe(s) {timeframes}: using every stored series")
    series = []
    for one in chosen:
        bars, frame = load_candles(app_db.engine, one.symbol, one.timeframe), features[str_key(one)]
        if not bars.index.equals(frame.index) or not labels[str_key(one)].index.equals(frame.index):
            raise dg.Failure(f"{one}: the stored features ({len(frame)} rows), labels ({len(labels[str_key(one)])}) and candles "
                             f"({len(bars)}) differ: materialize features and labels of {one} again (the scans do), then train")
        series.append(SeriesData(one.symbol, one.timeframe, bars, labels[str_key(one)], frame, scores_of(load_news(app_db.engine, one.symbol))))
    return series
