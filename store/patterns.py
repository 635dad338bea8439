"""Pattern detections: replaced per series in one transaction, read back by symbol."""

from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, delete, insert, select

from store.db import transaction
from store.models import PatternDetection
from store.events import add_event
from store.types import iso, utcnow


def replace_detections(engine: Engine, symbol: str, timeframe: str, detections: pd.DataFrame) -> int:
    """Store the series' detections (ts, pattern, direction, strength, confidence), replacing
    the previous set atomically: a reader sees the old set or the new one, never a mix.
    Detections at bars after the newest stored before become `pattern` events, in the same
    transaction."""
    now = utcnow()
    rows = [
        {"symbol": symbol, "timeframe": timeframe, "ts": ts.to_pydatetime(), "pattern": p, "direction": int(d),
         "strength": float(s), "confidence": None if pd.isna(c) else float(c), "created_at": now}
        for ts, p, d, s, c in detections[["ts", "pattern", "direction", "strength", "confidence"]].itertuples(index=False)
    ]
    mine = (PatternDetection.symbol == symbol, PatternDetection.timeframe == timeframe)
    with transaction(engine) as session:
        before = session.execute(select(PatternDetection.ts).where(*mine).order_by(PatternDetection.ts.desc()).limit(1)).scalar()
        session.execute(delete(PatternDetection).where(*mine))
        if rows:
            session.execute(insert(PatternDetection), rows)
        newest = max((r["ts"] for r in rows), default=None)
        for row in rows:  # the live feed's `pattern` events: detections after the newest stored before (first time: the last bar's)
            if (row["ts"] > before) if before is not None else (row["ts"] == newest):
                add_event(session, "pattern", symbol, {k: iso(v) if k == "ts" else v for k, v in row.items() if k not in ("symbol", "created_at")})
    return len(rows)


def load_detections(engine: Engine, symbol: str | None = None, timeframe: str | None = None, since: datetime | None = None) -> pd.DataFrame:
    cols = [PatternDetection.symbol, PatternDetection.timeframe, PatternDetection.ts, PatternDetection.pattern,
            PatternDetection.direction, PatternDetection.strength, PatternDetection.confidence]
    query = select(*cols).order_by(PatternDetection.ts, PatternDetection.pattern)
    if symbol is not None:
        query = query.where(PatternDetection.symbol == symbol)
    if timeframe is not None:
        query = query.where(PatternDetection.timeframe == timeframe)
    if since is not None:
        query = query.where(PatternDetection.ts >= since)
    with transaction(engine) as session:
        rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=[c.key for c in cols])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame
