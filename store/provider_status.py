"""Market-data provider health, written after fetches and read by the service.

The fallback chain lives in whichever process fetches (a Dagster run); the service is
another process, so the chain's per-provider health is persisted here: state, call and failure counts as the
last fetching process saw them, the last error and success whenever they happened.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from store.db import transaction
from store.models import ProviderStatus
from store.types import utcnow


class Health(Protocol):  # market.chain.ProviderHealth, without importing market here
    name: str
    state: str
    calls: int
    failures: int
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None
    last_latency_s: float | None


def record_provider_health(engine: Engine, health: Iterable[Health]) -> int:
    """Upsert the providers that were called; returns how many rows were written."""
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {"provider": h.name, "state": h.state, "calls": h.calls, "failures": h.failures, "last_error": h.last_error,
         "last_error_at": h.last_error_at, "last_success_at": h.last_success_at,
         "last_latency_ms": None if h.last_latency_s is None else 1000 * h.last_latency_s, "updated_at": now}
        for h in health if h.calls
    ]
    if not rows:
        return 0
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(ProviderStatus)
    table = ProviderStatus.__table__
    # coalesce: a fetch that saw no error keeps the last one on record
    stmt = stmt.on_conflict_do_update(index_elements=["provider"], set_={
        "state": stmt.excluded.state, "calls": stmt.excluded.calls, "failures": stmt.excluded.failures,
        "last_error": func.coalesce(stmt.excluded.last_error, table.c.last_error),
        "last_error_at": func.coalesce(stmt.excluded.last_error_at, table.c.last_error_at),
        "last_success_at": func.coalesce(stmt.excluded.last_success_at, table.c.last_success_at),
        "last_latency_ms": func.coalesce(stmt.excluded.last_latency_ms, table.c.last_latency_ms),
        "updated_at": stmt.excluded.updated_at})
    with transaction(engine) as session:
        session.execute(stmt, rows)
    return len(rows)


def load_provider_status(engine: Engine) -> pd.DataFrame:
    with transaction(engine) as session:
        rows = session.execute(select(ProviderStatus).order_by(ProviderStatus.provider)).scalars().all()
        return pd.DataFrame([{c.key: getattr(r, c.key) for c in ProviderStatus.__table__.columns} for r in rows],
                            columns=[c.key for c in ProviderStatus.__table__.columns])
