"""The scan's scoring step: each new bar of a served series is scored once by the champion.

The score is stored with the bar and version (`predictions.score`), announced to the live
feed as a `score` event in the same transaction, and decides the alert. Everything after
reads that stored score — the alert scanner's later passes, `POST /api/ml/score` for the
stored symbol — so no one computes what the bar already has; a new champion scores the
bar again (its own row).
"""

from dataclasses import dataclass
from datetime import datetime

from features.sentiment import scores_of
from store.candles import load_candles
from store.news import load_news
from store.predictions import store_score, stored_score
from store.types import iso
from trading.alerts import record
from training import scoring
from training.scoring import Score


@dataclass(frozen=True)
class Scanned:
    symbol: str
    timeframe: str
    score: Score
    scored_now: bool  # False: this version had scored the bar already (the stored score was used)
    alert_id: int | None  # a new alert's id
    alert: dict | None  # the alert the score called for (de-duplicated when alert_id is None)


def score_bar(engine, champion: scoring.Versioned, symbol: str, timeframe: str, model_name: str) -> tuple[Score, bool] | None:
    """(the champion's score of the series' latest stored bar, whether it was computed now);
    None when the series has too few bars to score."""
    found = stored_score(engine, symbol, timeframe, model_name, champion.version)
    if found is not None:
        return Score.from_record(found), False
    candles = load_candles(engine, symbol, timeframe, last=scoring.HISTORY_BARS)
    if len(candles) < scoring.MIN_BARS:
        return None
    score = scoring.score(champion, candles, timeframe, scores_of(load_news(engine, symbol)))
    new = store_score(engine, score.prediction_row(symbol, model_name), {**score.record(), "as_of": iso(score.as_of)})
    return score, new


def scan(engine, champion: scoring.Versioned, symbol: str, timeframe: str, model_name: str, confidence: float, dedup_minutes: float,
         now: datetime | None = None) -> Scanned | None:
    """Score the series' latest bar (once per version) and raise its alert if it calls for one."""
    scored = score_bar(engine, champion, symbol, timeframe, model_name)
    if scored is None:
        return None
    score, new = scored
    alert_id, alert = record(engine, symbol, timeframe, score, confidence, dedup_minutes, model_name, now=now)
    return Scanned(symbol, timeframe, score, new, alert_id, alert)
