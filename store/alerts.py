"""Alerts: raised at most once per bar, direction and model version, and once per (symbol,
direction, source) within a window; read, dismissed.

De-duplication holds across processes and restarts because it is decided in the
database: the check and the insert run in one transaction that first takes a lock — an
advisory lock on the key on PostgreSQL, the write lock on SQLite — so two scanners
racing on the same key raise one alert.
"""

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, and_, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite

from store.db import transaction
from store.models import Alert, Prediction
from store.events import add_event
from store.types import iso, utcnow

COLUMNS = ["id", "symbol", "timeframe", "direction", "confidence", "source", "model_version", "prediction_id", "data_partition",
           "evidence", "status", "created_at", "dismissed_at"]


def alert_row(a: Alert) -> dict[str, Any]:
    return {c: (iso(getattr(a, c)) if c in ("created_at", "dismissed_at") else getattr(a, c)) for c in COLUMNS}


def raise_alert(engine: Engine, alert: dict[str, Any], window: timedelta, prediction: dict[str, Any] | None = None) -> int | None:
    """Store the alert (and the prediction behind it) unless the same (symbol, direction,
    source) was raised within `window`, or ever on the same bar (`data_partition`) by the
    same model version; returns the new id, or None when de-duplicated. The scanner sees the
    same bar many times a day: only a new bar or a new champion makes a new alert."""
    now = alert.get("created_at") or utcnow()
    key = f"{alert['symbol']}|{alert['direction']}|{alert['source']}"
    with transaction(engine) as session:
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
        else:
            session.execute(text("UPDATE alerts SET id = id WHERE 0"))  # takes SQLite's write lock before the check
        same_bar = and_(Alert.data_partition == alert.get("data_partition"), Alert.model_version == alert.get("model_version"))
        duplicate = session.execute(select(Alert.id).where(
            Alert.symbol == alert["symbol"], Alert.direction == alert["direction"], Alert.source == alert["source"],
            or_(Alert.created_at >= now - window, same_bar)).limit(1)).first()
        if duplicate is not None:
            return None
        prediction_id = None
        if prediction is not None:
            dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
            session.execute(dialect.insert(Prediction).values(created_at=now, **prediction).on_conflict_do_nothing(
                index_elements=["symbol", "timeframe", "ts", "model_name", "model_version"]))
            prediction_id = session.execute(select(Prediction.id).where(
                Prediction.symbol == prediction["symbol"], Prediction.timeframe == prediction["timeframe"], Prediction.ts == prediction["ts"],
                Prediction.model_name == prediction["model_name"], Prediction.model_version == prediction["model_version"])).scalar_one()
        row = Alert(**{**alert, "created_at": now, "status": "active", "prediction_id": prediction_id})
        session.add(row)
        session.flush()
        add_event(session, "alert", row.symbol, alert_row(row))
        return row.id


def load_alerts(engine: Engine, status: str | None = None, symbol: str | None = None, min_confidence: float = 0.0,
                limit: int = 1000) -> list[dict[str, Any]]:
    query = select(Alert).where(Alert.confidence >= min_confidence).order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Alert.status == status)
    if symbol is not None:
        query = query.where(Alert.symbol == symbol)
    with transaction(engine) as session:
        return [alert_row(a) for a in session.execute(query).scalars()]


def get_alert(engine: Engine, alert_id: int) -> dict[str, Any] | None:
    with transaction(engine) as session:
        row = session.get(Alert, alert_id)
        return None if row is None else alert_row(row)


def dismiss_alert(engine: Engine, alert_id: int) -> dict[str, Any] | None:
    """Dismiss an active alert (dismissing it again changes nothing); None if there is no such alert."""
    with transaction(engine) as session:
        row = session.get(Alert, alert_id, with_for_update=engine.dialect.name == "postgresql")
        if row is None:
            return None
        if row.status != "dismissed":
            row.status, row.dismissed_at = "dismissed", utcnow()
        return alert_row(row)


def alert_frame(engine: Engine) -> pd.DataFrame:
    with transaction(engine) as session:
        rows = session.execute(select(*(getattr(Alert, c) for c in COLUMNS if c != "evidence")).order_by(Alert.id)).all()
    frame = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "evidence"])
    for col in ("created_at", "dismissed_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def alert_counts(engine: Engine) -> dict[str, int]:
    with transaction(engine) as session:
        return {k: int(v) for k, v in session.execute(select(Alert.status, func.count(Alert.id)).group_by(Alert.status)).all()}


def data_partition(symbol: str, timeframe: str, bar: datetime | pd.Timestamp) -> str:
    """The data partition `SYMBOL:TF@ISO` an alert was raised on (the bar time in UTC with a `Z`)."""
    return f"{symbol}:{timeframe}@{iso(bar)}"


def bar_time(partition: str) -> datetime:
    """The bar time in a data partition `SYMBOL:TF@ISO`."""
    return pd.Timestamp(partition.split("@", 1)[1]).to_pydatetime()
