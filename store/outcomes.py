"""Realized outcomes of signals, alerts, trades, predictions and detections."""

from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import Engine, insert, select

from store.db import transaction
from store.models import Outcome
from store.types import utcnow

COLUMNS = ["id", "subject_type", "subject_id", "symbol", "timeframe", "pattern", "realized_return", "hit", "horizon_bars",
           "resolved_at", "created_at"]


def log_outcome(engine: Engine, outcome: Mapping[str, Any]) -> int:
    """Store one outcome; returns its id."""
    with transaction(engine) as session:
        return session.execute(insert(Outcome).returning(Outcome.id), [{"created_at": utcnow(), **outcome}]).scalar_one()


def load_outcomes(engine: Engine, subject_type: str | None = None) -> pd.DataFrame:
    query = select(*(getattr(Outcome, c) for c in COLUMNS)).order_by(Outcome.resolved_at, Outcome.id)
    if subject_type is not None:
        query = query.where(Outcome.subject_type == subject_type)
    with transaction(engine) as session:
        frame = pd.DataFrame(session.execute(query).all(), columns=COLUMNS)
    for col in ("resolved_at", "created_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame
