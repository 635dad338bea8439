"""Stored backtests: the Dagster assets write them, the HTTP paths read (and re-run) them."""

import math
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, insert, select

from store.db import transaction
from store.models import Backtest
from store.types import iso, utcnow

KINDS = ("pattern", "strategy", "walk_forward")
COLUMNS = ["id", "kind", "symbol", "timeframe", "model_version", "params", "metrics", "result", "inputs", "mlflow_run_id",
           "dagster_run_id", "created_at"]


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


def save_backtest(engine: Engine, row: dict[str, Any]) -> int:
    """Store one backtest; returns its id."""
    if row.get("kind") not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {row.get('kind')!r}")
    values = {"created_at": utcnow(), "inputs": None, **row}
    for key in ("params", "metrics", "result", "inputs"):
        values[key] = plain(values[key])
    with transaction(engine) as session:
        return session.execute(insert(Backtest).returning(Backtest.id), [values]).scalar_one()


def _row(b: Backtest, with_inputs: bool) -> dict[str, Any]:
    out = {c: getattr(b, c) for c in COLUMNS if with_inputs or c != "inputs"}
    out["created_at"] = iso(b.created_at)
    return out


def latest_backtest(engine: Engine, kind: str, symbol: str, timeframe: str, with_inputs: bool = False) -> dict[str, Any] | None:
    """The newest stored backtest of this kind for one series, or None."""
    with transaction(engine) as session:
        found = session.execute(select(Backtest).where(Backtest.kind == kind, Backtest.symbol == symbol,
                                                       Backtest.timeframe == timeframe).order_by(Backtest.id.desc()).limit(1)).scalar()
        return None if found is None else _row(found, with_inputs)


def latest_backtests(engine: Engine, kind: str) -> list[dict[str, Any]]:
    """The newest stored backtest of this kind for every series (without inputs)."""
    newest = select(func.max(Backtest.id)).where(Backtest.kind == kind).group_by(Backtest.symbol, Backtest.timeframe)
    with transaction(engine) as session:
        rows = session.execute(select(Backtest).where(Backtest.id.in_(newest)).order_by(Backtest.symbol, Backtest.timeframe)).scalars()
        return [_row(b, False) for b in rows]
