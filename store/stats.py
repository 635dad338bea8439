"""Summaries for the stats endpoints: a few aggregate queries, no rows loaded."""

from typing import Any

from sqlalchemy import Engine, case, func, select

from store.db import transaction
from store.models import Alert, Candle, NewsItem, Outcome, PaperTrade, PatternDetection, Prediction

TABLES = {"candles": Candle, "pattern_detections": PatternDetection, "predictions": Prediction, "alerts": Alert,
          "paper_trades": PaperTrade, "outcomes": Outcome, "news": NewsItem}


def row_counts(engine: Engine) -> dict[str, int]:
    with transaction(engine) as session:
        return {name: int(session.execute(select(func.count()).select_from(model)).scalar_one()) for name, model in TABLES.items()}


def pattern_stats(engine: Engine, top: int = 10) -> dict[str, Any]:
    with transaction(engine) as session:
        total, bullish, series, last = session.execute(select(
            func.count(PatternDetection.id), func.count(case((PatternDetection.direction > 0, 1))),
            func.count(func.distinct(PatternDetection.symbol + ":" + PatternDetection.timeframe)), func.max(PatternDetection.ts))).one()
        ranked = session.execute(select(PatternDetection.pattern, func.count(PatternDetection.id).label("n"))
                                 .group_by(PatternDetection.pattern).order_by(func.count(PatternDetection.id).desc(), PatternDetection.pattern)
                                 .limit(top)).all()
        outcomes = session.execute(select(func.count(Outcome.id), func.count(case((Outcome.hit.is_(True), 1))))
                                   .where(Outcome.pattern.is_not(None))).one()
    return {"detections": int(total), "bullish": int(bullish), "bearish": int(total - bullish), "series": int(series),
            "last_detection": last, "top_patterns": [{"pattern": p, "count": int(n)} for p, n in ranked],
            "logged_outcomes": int(outcomes[0]), "logged_hits": int(outcomes[1])}
