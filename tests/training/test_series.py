"""The training series from candles: the same frames the asset graph materializes
(pooled pattern outcomes, labels, features with point-in-time confidences, news scores)."""

import pandas as pd

from features import BaseRates, LabelSpec, build_features, outcomes, triple_barrier
from features.patterns import pooled_outcomes
from features.sentiment import scores_of
from market.synthetic import generate
from market.universe import Series
from training.series import training_series

A, B, C = Series("SYNA", "1d"), Series("SYNB", "1d"), Series("SYNA", "1h")


def test_pooled_outcomes_are_every_series_outcomes_in_one_table():
    frames = {A: generate("SYNA", "1d", 300, seed=1), C: generate("SYNA", "1h", 200, seed=2)}
    pooled = pooled_outcomes((frame, s.timeframe) for s, frame in frames.items())
    assert pooled.equals(pd.concat([outcomes(frames[A], "1d"), outcomes(frames[C], "1h")], ignore_index=True))
    empty = pooled_outcomes([])
    assert empty.empty and list(empty.columns) == ["pattern", "known_at", "hit"] and str(empty["known_at"].dt.tz) == "UTC"
    assert BaseRates(empty).at("CDLDOJI", frames[A].index[:3]).tolist() == [0.5] * 3


def test_training_series_builds_what_the_asset_graph_builds():
    candles = {A: generate("SYNA", "1d", 300, seed=1), B: generate("SYNB", "1d", 300, seed=2), C: generate("SYNA", "1h", 200, seed=3)}
    news = pd.DataFrame({"published_at": [candles[A].index[100]], "text": ["shares soar on record profits"], "sentiment": [0.8]})
    spec = LabelSpec(horizon=5, take_profit=1.5, stop_loss=1.0, mode="atr")
    asked = []

    def news_of(symbol: str) -> pd.DataFrame:
        asked.append(symbol)
        return news if symbol == "SYNA" else news.iloc[:0]

    series, table = training_series(candles, [A, B], spec, news_of=news_of)
    assert table.equals(pooled_outcomes((frame, s.timeframe) for s, frame in candles.items()))  # every series pools, not only the chosen
    assert [(s.symbol, s.timeframe) for s in series] == [("SYNA", "1d"), ("SYNB", "1d")] and asked == ["SYNA", "SYNB"]
    rates = BaseRates(table)
    for s, key in zip(series, [A, B], strict=True):
        assert s.candles is candles[key]
        assert s.labels.equals(triple_barrier(candles[key], spec))
        assert s.features.equals(build_features(candles[key], key.timeframe, rates))
    assert series[0].news.equals(scores_of(news)) and series[1].news is None  # no stored news: no sentiment

    plain, _ = training_series(candles, [B], LabelSpec())
    assert plain[0].news is None and plain[0].labels.equals(triple_barrier(candles[B], LabelSpec()))
