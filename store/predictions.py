"""Served predictions: logged once per (bar, model version), read back to judge them live."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from store.db import transaction
from store.events import add_event
from store.models import Candle, Prediction
from store.types import utcnow

COLUMNS = ["symbol", "timeframe", "ts", "model_name", "model_version", "probability", "direction", "confidence", "created_at"]


def log_predictions(engine: Engine, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert the predictions not logged yet (INSERT ... ON CONFLICT DO NOTHING on the bar
    and version): every worker may log the same prediction, it is stored once."""
    now = utcnow()
    rows = [{"created_at": now, **r} for r in rows]
    if not rows:
        return 0
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(Prediction).on_conflict_do_nothing(
        index_elements=["symbol", "timeframe", "ts", "model_name", "model_version"])
    with transaction(engine) as session:
        return len(session.execute(stmt.returning(Prediction.id), rows).all())


def store_score(engine: Engine, row: Mapping[str, Any], event: dict[str, Any]) -> bool:
    """Store a bar's score (a prediction row with its `score`) unless that version stored it
    already (a row without its score, logged before migration 0006 or with an alert, gets
    it); a newly stored one is announced as a `score` event in the same transaction.
    True when it was new."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(Prediction).values(created_at=utcnow(), **row)
    stmt = stmt.on_conflict_do_update(index_elements=["symbol", "timeframe", "ts", "model_name", "model_version"],
                                      set_={"score": stmt.excluded.score}, where=Prediction.score.is_(None))
    with transaction(engine) as session:
        new = session.execute(stmt.returning(Prediction.id)).first() is not None
        if new:
            add_event(session, "score", row["symbol"], event)
        return new


def stored_score(engine: Engine, symbol: str, timeframe: str, model_name: str, version: str) -> dict[str, Any] | None:
    """The stored score (`Score.record()`) of the series' latest stored bar by this version, or
    None when that bar has not been scored by it yet: one indexed lookup, no computation."""
    latest = select(func.max(Candle.ts)).where(Candle.symbol == symbol, Candle.timeframe == timeframe).scalar_subquery()
    query = select(Prediction.score).where(
        Prediction.symbol == symbol, Prediction.timeframe == timeframe, Prediction.ts == latest,
        Prediction.model_name == model_name, Prediction.model_version == version)
    with transaction(engine) as session:
        return session.execute(query).scalar_one_or_none()


def load_predictions(engine: Engine, model_name: str, since: datetime | None = None) -> pd.DataFrame:
    cols = [getattr(Prediction, c) for c in COLUMNS]
    query = select(*cols).where(Prediction.model_name == model_name).order_by(Prediction.ts, Prediction.id)
    if since is not None:
        query = query.where(Prediction.ts >= since)
    with transaction(engine) as session:
        frame = pd.DataFrame(session.execute(query).all(), columns=COLUMNS)
    for col in ("ts", "created_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def prediction_counts(engine: Engine) -> dict[str, Any]:
    with transaction(engine) as session:
        n, last = session.execute(select(func.count(Prediction.id), func.max(Prediction.created_at))).one()
    return {"predictions": int(n), "last_prediction_at": last}
