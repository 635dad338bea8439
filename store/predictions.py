"""Served predictions: logged once per (bar, model version), read back to judge them live."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from store.db import transaction
from store.models import Prediction
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
