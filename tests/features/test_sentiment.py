"""Sentiment scores and features: VADER's sign, the point-in-time cut at the bar close, and the
compiled decay pass against the plain sum over items (the reference)."""

import numpy as np
import pandas as pd
import pytest

from features.sentiment import SENTIMENT_COLUMNS, score, sentiment_features


def bars(n: int, timeframe: str = "1D", start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq=timeframe, tz="UTC")


def random_news(n: int, index: pd.DatetimeIndex, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    span = (index[-1] - index[0]).value + pd.Timedelta("2D").value
    offsets = rng.integers(-pd.Timedelta("10D").value, span, size=n)
    scores = rng.uniform(-1, 1, size=n)
    scores[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame({"published_at": index[0] + pd.to_timedelta(offsets), "score": scores})


def reference(index: pd.DatetimeIndex, timeframe: str, news: pd.DataFrame, half_life: str) -> np.ndarray:
    """The obvious loop: per bar, every scored item before the close, weighed by its age."""
    news = news[news["score"].notna()]
    rows = []
    for close in index + pd.Timedelta(timeframe):
        seen = news[news["published_at"] < close]
        w = 0.5 ** ((close - seen["published_at"]) / pd.Timedelta(half_life)).to_numpy(dtype=float)
        s = seen["score"].to_numpy()
        recent = (seen["published_at"] >= close - pd.Timedelta("7D")).sum()
        rows.append((np.sum(w * s) / np.sum(w) if len(seen) else np.nan, np.sum(w), float(recent)))
    return np.array(rows)


def test_scores_have_the_obvious_sign():
    got = score(["This is a wonderful, excellent result. Great news!", "Terrible losses, awful fraud scandal.",
                 "The meeting is on Tuesday."])
    assert got[0] > 0.5 and got[1] < -0.5 and abs(got[2]) < 0.2
    assert got.dtype == np.float64 and np.all(np.abs(got) <= 1)


def test_no_text_scores_nan():
    got = score([None, "", "   \n\t", "good"])
    assert np.isnan(got[:3]).all() and got[3] > 0
    assert score([]).shape == (0,)


@pytest.mark.parametrize(("seed", "timeframe", "half_life"), [(0, "1D", "3D"), (1, "4h", "12h"), (2, "1D", "1D")])
def test_decay_equals_the_slow_sum(seed, timeframe, half_life):
    index = bars(60, timeframe)
    news = random_news(80, index, seed)
    got = sentiment_features(index, timeframe, news, half_life=half_life)
    assert list(got.columns) == list(SENTIMENT_COLUMNS) and got.index.equals(index)
    assert (got.dtypes == "float64").all()
    np.testing.assert_allclose(got.to_numpy(), reference(index, timeframe, news, half_life), rtol=1e-12, atol=1e-300)


def test_unsorted_news_and_unsorted_bars_give_the_same_rows():
    index = bars(40)
    news = random_news(50, index, seed=3)
    want = sentiment_features(index, "1D", news.sort_values("published_at"))
    shuffled = news.sample(frac=1, random_state=0)
    pd.testing.assert_frame_equal(sentiment_features(index, "1D", shuffled), want)
    perm = np.random.default_rng(0).permutation(len(index))
    pd.testing.assert_frame_equal(sentiment_features(index[perm], "1D", shuffled), want.iloc[perm])


def test_features_at_t_are_unchanged_when_later_news_is_removed():
    index = bars(80)
    news = random_news(300, index, seed=4)
    exact = pd.DataFrame({"published_at": index[[10, 30, 50]] + pd.Timedelta("1D"), "score": [1.0, -1.0, 0.5]})
    news = pd.concat([news, exact], ignore_index=True)  # items exactly at some bars' closes
    full = sentiment_features(index, "1D", news)
    for t in (0, 9, 10, 29, 30, 50, 79):
        close = index[t] + pd.Timedelta("1D")
        cut = news[news["published_at"] < close]
        pd.testing.assert_series_equal(sentiment_features(index, "1D", cut).iloc[t], full.iloc[t])


def test_an_item_at_the_close_counts_only_from_the_next_bar():
    index = bars(3)
    news = pd.DataFrame({"published_at": [index[1]], "score": [0.8]})  # = close of bar 0
    got = sentiment_features(index, "1D", news, half_life="1D")
    assert np.isnan(got["sent_score"].iloc[0]) and got["sent_weight"].iloc[0] == 0.0 and got["sent_items_7d"].iloc[0] == 0.0
    assert got["sent_score"].iloc[1] == 0.8 and got["sent_weight"].iloc[1] == pytest.approx(0.5)
    assert got["sent_items_7d"].tolist() == [0.0, 1.0, 1.0]


def test_empty_news_gives_nan_scores_and_zero_weights():
    index = bars(5)
    for news in (pd.DataFrame({"published_at": pd.DatetimeIndex([], tz="UTC"), "score": []}),
                 pd.DataFrame(columns=["published_at", "score"]),
                 pd.DataFrame({"published_at": [index[0] - pd.Timedelta("1D")], "score": [np.nan]})):
        got = sentiment_features(index, "1D", news)
        assert got["sent_score"].isna().all()
        assert (got[["sent_weight", "sent_items_7d"]] == 0.0).all().all()


def test_decades_of_news_neither_overflow_nor_lose_the_mean():
    index = pd.date_range("1970-01-01", "2060-01-01", freq="30D", tz="UTC")
    news = pd.DataFrame({"published_at": [index[0], index[-2]], "score": [0.3, -0.6]})
    got = sentiment_features(index, "30D", news, half_life="1h")
    assert np.isfinite(got["sent_weight"]).all()
    assert (got["sent_score"].iloc[:-2] == 0.3).all()  # one item, however old, is still the mean
    assert (got["sent_score"].iloc[-2:] == -0.6).all()  # 90 years at a 1h half-life: the old one weighs 0


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        sentiment_features(pd.date_range("2024-01-01", periods=3, freq="1D"), "1D", pd.DataFrame(columns=["published_at", "score"]))


def test_finance_words_read_as_markets_read_them():
    """VADER alone reads these headlines as neutral or backwards; the finance words fix the sign."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    headlines = ["Apple beats estimates", "Tesla misses estimates", "Analyst downgrades Boeing", "Nvidia upgraded to outperform",
                 "Shares plunge after the report", "Bullish call on banks"]
    plain = [SentimentIntensityAnalyzer().polarity_scores(h)["compound"] for h in headlines]
    ours = score(headlines)
    assert list(np.sign(ours)) == [1, -1, -1, 1, -1, 1]
    assert sum(np.sign(p) == np.sign(o) for p, o in zip(plain, ours, strict=True)) < len(headlines)  # the extension changed something
    assert score(["Las acciones suben con fuerza"])[0] == 0.0  # not English: no words it knows, neutral
