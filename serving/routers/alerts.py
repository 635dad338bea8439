"""Alerts raised by the scanner (assets/alerts.py): list, one, dismiss, history with
outcomes, stats."""

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request

from serving.auth import require
from serving.champion import NoChampion
from serving.deps import stored_candles
from serving.errors import ApiError
from serving.schemas.alerts import Alert, AlertHistory, AlertList, AlertStats
from serving.schemas.common import AUTH, MAX_ID, Symbol, errors
from store.alerts import alert_frame, bar_time, dismiss_alert, get_alert, load_alerts
from store.api_keys import Principal
from store.types import plain
from training.live import judged_by_labels

router = APIRouter(prefix="/api/alerts", tags=["alerts"], responses=errors(*AUTH))
ALERT_ID = Path(ge=1, le=MAX_ID, description="an alert's id")
GET_ALERT, DISMISS = "#/paths/~1api~1alerts~1{alert_id}/get", "#/paths/~1api~1alerts~1{alert_id}~1dismiss/post"
LISTED_LINKS = {"GetAlert": {"operationRef": GET_ALERT, "parameters": {"alert_id": "$response.body#/alerts/0/id"},
                             "description": "the newest alert listed"},
                "DismissAlert": {"operationRef": DISMISS, "parameters": {"alert_id": "$response.body#/alerts/0/id"},
                                 "description": "dismiss the newest alert listed"}}


@router.get("", summary="Active alerts (filters: symbol, min confidence)", response_model=AlertList, responses={200: {"links": LISTED_LINKS}})
@router.get("/active", summary="Active alerts (same as /api/alerts)", response_model=AlertList, responses={200: {"links": LISTED_LINKS}})
def active(request: Request, symbol: Symbol | None = Query(None), min_confidence: float = Query(0.0, ge=0, le=1, allow_inf_nan=False),
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


@router.get("/history", summary="Past alerts with their outcomes", response_model=AlertHistory)
def history(request: Request, symbol: Symbol | None = Query(None), limit: int = Query(500, ge=1, le=10_000),
            _: Principal | None = Depends(require("read"))) -> dict:
    frame = outcomes(request)
    if symbol is not None:
        frame = frame[frame["symbol"] == symbol]
    rows = plain(frame.iloc[::-1].head(limit).drop(columns="ts", errors="ignore"))  # no alert stored: no ts column
    return {"count": len(rows), "alerts": rows}


@router.get("/stats", summary="Counts, hit rates, by symbol and source", response_model=AlertStats)
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


@router.get("/{alert_id}", summary="One alert with its model version and evidence", response_model=Alert, responses=errors(404))
def alert(request: Request, alert_id: int = ALERT_ID, _: Principal | None = Depends(require("read"))) -> dict:
    found = get_alert(request.app.state.engine, alert_id)
    if found is None:
        raise ApiError(404, f"no alert #{alert_id}")
    return found


@router.post("/{alert_id}/dismiss", summary="Dismiss an alert (again: no change)", response_model=Alert,
             responses={**errors(404), 200: {"links": {"GetAlert": {"operationRef": GET_ALERT, "parameters": {"alert_id": "$response.body#/id"},
                                                                   "description": "the alert, now dismissed"}}}})
def dismiss(request: Request, alert_id: int = ALERT_ID, _: Principal | None = Depends(require("trade"))) -> dict:
    found = dismiss_alert(request.app.state.engine, alert_id)
    if found is None:
        raise ApiError(404, f"no alert #{alert_id}")
    return found
