"""Column types shared by the models, and the one way timestamps leave as text."""

from datetime import UTC, datetime

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
