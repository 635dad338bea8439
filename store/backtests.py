"""Stored backtests: the Dagster assets write them, the HTTP paths read (and re-run) them."""

from typing import Any

from sqlalchemy import Engine, insert, select

from store.db import transaction
from store.models import Backtest
from store.types import iso, plain, utcnow

KINDS = ("pattern", "strategy", "walk_forward")
COLUMNS = ["id", "kind", "symbol", "timeframe", "model_version", "params", "metrics", "result", "inputs", "mlflow_run_id",
           "dagster_run_id", "created_at"]


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
