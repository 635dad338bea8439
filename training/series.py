"""The training series built from candles on the spot, as the asset graph builds them.

The Dagster graph materializes candles -> pattern_base_rates -> labels and features, and the
training assets read those frames back; `tx train` (and the training benchmark) have only
the candles, so this runs the same functions in the same order: the matured pattern
outcomes pooled over every series, then per chosen series its triple-barrier labels, its
features with point-in-time confidences shrunk toward those pooled rates, and its news scores.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

import pandas as pd

from features import BaseRates, LabelSpec, build_features, triple_barrier
from features.patterns import pooled_outcomes
from features.sentiment import scores_of
from training.pipeline import SeriesData


class SeriesKey(Protocol):
    """What names a series (market.universe.Series is one)."""

    @property
    def symbol(self) -> str: ...

    @property
    def timeframe(self) -> str: ...


def training_series(candles: Mapping[SeriesKey, pd.DataFrame], chosen: Iterable[SeriesKey], spec: LabelSpec,
                    news_of: Callable[[str], pd.DataFrame] | None = None) -> tuple[list[SeriesData], pd.DataFrame]:
    """(the chosen series ready for `training.pipeline`, the pooled outcomes table). `candles`
    holds every series the base rates pool, `chosen` those trained on (keys of `candles`);
    `news_of(symbol)` gives a symbol's stored news (None: no sentiment)."""
    table = pooled_outcomes((frame, key.timeframe) for key, frame in candles.items())
    rates = BaseRates(table)
    series = [SeriesData(s.symbol, s.timeframe, candles[s], triple_barrier(candles[s], spec),
                         build_features(candles[s], s.timeframe, rates), scores_of(news_of(s.symbol)) if news_of else None)
              for s in chosen]
    return series, table
