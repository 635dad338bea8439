"""Column types shared by the models, and the one way values leave as JSON (timestamps as ISO-8601 UTC)."""

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always tz-aware UTC in Python, on SQLite as on PostgreSQL.

    SQLite keeps no time zone, so values are normalised to UTC on the way in and
    marked UTC on the way out; naive datetimes are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be tz-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | pd.Timestamp | None) -> str | None:
    """ISO-8601 in UTC with a `Z` (None and NaT stay None): how every API answer writes a time."""
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat().replace("+00:00", "Z")


def plain(value: Any) -> Any:
    """JSON-safe: NaN and infinities as null, numpy scalars as Python, times as ISO-8601 UTC,
    frames as rows (PostgreSQL's JSON refuses NaN; nothing is silently dropped)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return plain(value.to_dict(orient="records"))
    if isinstance(value, pd.Series | pd.Index | np.ndarray):
        return plain(value.tolist())
    if isinstance(value, pd.Timestamp | datetime):
        return iso(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT:
        return None
    return value
