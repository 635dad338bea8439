"""Alerts raised by the scanner (assets/alerts.py): list, one, dismiss, history with
outcomes, stats."""

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request

from serving.auth import require
from serving.champion import NoChampion
from serving.errors import ApiError
from serving.routers.ml_ops import stored_candles
from training.live import judged_by_labels
from serving.routers.ml import SYMBOL
from store.alerts import alert_frame, bar_time, dismiss_alert, get_alert, load_alerts
from store.api_keys import Principal
from store.types import plain

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


@router.get("", summary="Active alerts (filters: symbol, min confidence)")
@router.get("/active", summary="Active alerts (same as /api/alerts)")
def active(request: Request, symbol: str | None = Query(None, pattern=SYMBOL), min_confidence: float = Query(0.0, ge=0, le=1),
           limit: int = Query(100, ge=1, le=1000), _: Principal | None = Depends(require("read"))) -> dict:
    rows = load_alerts(request.app.state.engine, "active", symbol, min_confidence, limit)
    return {"count": len(rows), "alerts": rows}


def outcomes(request: Request) -> pd.DataFrame:
    """Every alert with its outcome: the label its bar matured to, read in the alert's direction
    (hit: take-profit first for `up`, not for `down`); pending until the label matures."""
    frame = alert_frame(request.app.state.engine)
    if frame.empty:
        return frame.assign(outcome=pd.Series(dtype=object))
    try:
        config = request.app.state.champion.current().model.label_config or {}
    except NoChampion:
        config = {}
    frame["ts"] = pd.to_datetime([bar_time(p) for p in frame["data_partition"]], utc=True)
    y = judged_by_labels(frame, config, stored_candles(request.app.state.engine))["y"].to_numpy()
    hit = np.where(frame["direction"] == "up", y == 1, y == 0)
    return frame.assign(outcome=np.where(np.isnan(y), "pending", np.where(hit, "hit", "miss")))


@router.get("/history", summary="Past alerts with their outcomes")
def history(request: Request, symbol: str | None = Query(None, pattern=SYMBOL), limit: int = Query(500, ge=1, le=10_000),
            _: Principal | None = Depends(require("read"))) -> dict:
    frame = outcomes(request)
    if symbol is not None:
        frame = frame[frame["symbol"] == symbol]
    rows = plain(frame.iloc[::-1].head(limit).drop(columns="ts"))
    return {"count": len(rows), "alerts": rows}


@router.get("/stats", summary="Counts, hit rates, by symbol and source")
def stats(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    frame = outcomes(request)
    if frame.empty:
        return {"alerts": 0, "by_status": {}, "by_symbol": {}, "by_source": {}, "hit_rate": None, "matured": 0}

    def summary(rows: pd.DataFrame) -> dict:
        matured = rows[rows["outcome"] != "pending"]
        return {"alerts": len(rows), "matured": len(matured),
                "hit_rate": float((matured["outcome"] == "hit").mean()) if len(matured) else None}

    return {**summary(frame), "by_status": frame["status"].value_counts().to_dict(),
            "by_symbol": {k: summary(g) for k, g in frame.groupby("symbol")},
            "by_source": {k: summary(g) for k, g in frame.groupby("source")}}


@router.get("/{alert_id}", summary="One alert with its model version and evidence")
def alert(request: Request, alert_id: int = Path(ge=1), _: Principal | None = Depends(require("read"))) -> dict:
    found = get_alert(request.app.state.engine, alert_id)
    if found is None:
        raise ApiError(404, f"no alert #{alert_id}")
    return found


@router.post("/{alert_id}/dismiss", summary="Dismiss an alert")
def dismiss(request: Request, alert_id: int = Path(ge=1), _: Principal | None = Depends(require("trade"))) -> dict:
    found = dismiss_alert(request.app.state.engine, alert_id)
    if found is None:
        raise ApiError(404, f"no alert #{alert_id}")
    return found
