"""News sentiment: VADER scores per text, and point-in-time recency-weighted features per bar.

A bar is known at its close (open + timeframe); its features use only the items published
strictly before that close. Each item weighs 0.5 ** (age / half_life), its age measured at
the close, so yesterday's news counts more than last month's:

    sent_score    = sum(w * score) / sum(w)     (NaN before the first item)
    sent_weight   = sum(w)                      (how much recent news there is; 0.0 before any)
    sent_items_7d = items in [close - 7 days, close)

One compiled pass over the bars and items in time order (numba), O(bars + items) after
sorting. The running sums are kept relative to the newest item's time and decayed forward
by factors <= 1, never as exp of absolute times, so decades of data neither overflow nor
lose the mean: the mean is a ratio, and the newest item always weighs 1 in it.
"""

from collections.abc import Iterable
from functools import cache

import numba
import numpy as np
import pandas as pd
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

SENTIMENT_COLUMNS = ("sent_score", "sent_weight", "sent_items_7d")
HALF_LIFE = "3D"
WINDOW = pd.Timedelta("7D")


# VADER's lexicon is tuned on social media; market news uses words it reads as neutral or
# wrongly ("beat" as violence, "short" and "bull" as nothing). Valences on VADER's scale
# (-4 .. +4), chosen for headline use; docs/SENTIMENT.md lists them with the reasoning.
FINANCE_LEXICON = {
    "beat": 1.8, "beats": 1.8, "miss": -1.8, "misses": -1.8, "missed": -1.8,
    "upgrade": 2.0, "upgraded": 2.0, "upgrades": 2.0, "downgrade": -2.0, "downgraded": -2.0, "downgrades": -2.0,
    "outperform": 1.8, "outperforms": 1.8, "underperform": -1.8, "underperforms": -1.8,
    "bullish": 2.2, "bearish": -2.2, "rally": 1.6, "rallies": 1.6, "surge": 1.8, "surges": 1.8, "soar": 2.0, "soars": 2.0,
    "plunge": -2.2, "plunges": -2.2, "tumble": -1.9, "tumbles": -1.9, "slump": -1.8, "slumps": -1.8, "selloff": -1.8,
    "raises": 0.8, "cuts": -0.8, "layoffs": -1.6, "lawsuit": -1.5, "probe": -1.2, "recall": -1.3,
    "bankruptcy": -3.0, "dividend": 0.8, "buyback": 1.2, "profit": 1.4, "loss": -1.4,
    "losses": -1.6, "volatile": -0.6, "overweight": 1.2, "underweight": -1.2,
}


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    """One analyzer per process (building it parses the lexicon, which costs more than
    scoring), with the finance words added."""
    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(FINANCE_LEXICON)
    return analyzer


def score(texts: Iterable[str | None]) -> np.ndarray:
    """VADER compound score in [-1, 1] per text; NaN where there is no text to read."""
    analyzer = _analyzer()
    return np.fromiter(
        (analyzer.polarity_scores(t)["compound"] if isinstance(t, str) and t.strip() else np.nan for t in texts),
        dtype="float64",
    )


def _ns(stamps: pd.DatetimeIndex, what: str) -> np.ndarray:
    if stamps.tz is None:
        raise ValueError(f"naive timestamps in {what}: must be tz-aware")
    return stamps.as_unit("ns").asi8  # UTC epoch nanoseconds, whatever the zone


def sentiment_features(index: pd.DatetimeIndex, timeframe: str, news: pd.DataFrame,
                       half_life: str | pd.Timedelta = HALF_LIFE) -> pd.DataFrame:
    """SENTIMENT_COLUMNS (float64) per bar open time in `index`, from `news` (published_at, score).

    Items with a NaN score or no publication time are ignored everywhere, including the
    7-day count: an item nobody could score says nothing about sentiment."""
    half = pd.Timedelta(half_life)
    if half <= pd.Timedelta(0):
        raise ValueError(f"half_life must be > 0, got {half_life!r}")
    closes = _ns(pd.DatetimeIndex(index) + pd.Timedelta(timeframe), "index")
    published = pd.DatetimeIndex(news["published_at"]) if len(news) else pd.DatetimeIndex([], tz="UTC")
    scores = news["score"].to_numpy(dtype="float64") if len(news) else np.empty(0)
    pub = _ns(published, "news.published_at")
    keep = np.isfinite(scores) & ~published.isna()
    pub, scores = pub[keep], scores[keep]
    by_time = np.argsort(pub, kind="stable")
    order = np.argsort(closes, kind="stable")  # the pass walks bars in time order; written back in place
    block = np.empty((len(SENTIMENT_COLUMNS), len(closes)))
    _decay_pass(pub[by_time], scores[by_time], closes[order], float(half.value), WINDOW.value, order, block)
    return pd.DataFrame(block.T, index=index, columns=list(SENTIMENT_COLUMNS), copy=False)


@numba.njit(cache=True, nogil=True)
def _decay_pass(pub, scores, closes, half_life, window, order, out):  # pragma: no cover - compiled
    """Merge-walk of sorted items and sorted closes; sums are relative to the newest item's time."""
    s = w = 0.0
    ref = 0
    j = k = 0
    for i in range(closes.shape[0]):
        c = closes[i]
        while j < pub.shape[0] and pub[j] < c:  # strictly before the close
            if j > 0:
                f = 0.5 ** ((pub[j] - ref) / half_life)
                s *= f
                w *= f
            s += scores[j]
            w += 1.0
            ref = pub[j]
            j += 1
        while k < j and pub[k] < c - window:
            k += 1
        at = order[i]
        if j == 0:
            out[0, at], out[1, at] = np.nan, 0.0
        else:
            out[0, at] = s / w  # w >= 1: the newest item weighs 1 at `ref`
            out[1, at] = w * 0.5 ** ((c - ref) / half_life)
        out[2, at] = j - k


def aggregate_at(news: pd.DataFrame | None, at: pd.Timestamp, half_life: str | pd.Timedelta = HALF_LIFE) -> dict[str, float]:
    """The sentiment features as of `at` (items published strictly before it), as a dict."""
    if news is None or news.empty:
        news = pd.DataFrame({"published_at": pd.DatetimeIndex([], tz="UTC"), "score": np.empty(0)})
    row = sentiment_features(pd.DatetimeIndex([at]), "0s", news, half_life).iloc[0]
    return {k: float(v) for k, v in row.items()}


def scores_of(news: pd.DataFrame) -> pd.DataFrame | None:
    """Stored news (published_at, text, sentiment) as the (published_at, score) frame the
    features take: the stored score where there is one, VADER's where not; None when empty."""
    if news.empty:
        return None
    scores = news["sentiment"].astype("float64").to_numpy(copy=True)
    missing = np.isnan(scores)
    if missing.any():
        scores[missing] = score(news.loc[missing, "text"])
    return pd.DataFrame({"published_at": news["published_at"].to_numpy(), "score": scores})
