"""Summaries: trading, patterns, the model, the system."""

import os
import platform
import time
from importlib.metadata import version

from fastapi import APIRouter, Depends, Request

from serving.auth import require
from serving.deps import STARTED
from serving.schemas.common import AUTH, errors
from serving.schemas.stats import MlStats, PatternStats, SystemStats, TradingStats
from store.api_keys import Principal
from store.candles import coverage
from store.predictions import prediction_counts
from store.types import iso, plain
from store.alerts import alert_counts
from store.paper import trades_frame
from store.stats import pattern_stats, row_counts
from trading.broker import ACCOUNT
from trading.performance import trade_stats
from training.recorder import FUSED_MODEL, Recorder

router = APIRouter(prefix="/api/stats", tags=["stats"], responses=errors(*AUTH))


@router.get("/trading", summary="Paper trades: counts, win rate, realized P&L; alerts by status", response_model=TradingStats)
def trading(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    engine = request.app.state.engine
    return plain({**trade_stats(trades_frame(engine, ACCOUNT)), "alerts": alert_counts(engine)})


@router.get("/patterns", summary="Stored detections: counts, directions, series, the most frequent patterns",
            response_model=PatternStats)
def patterns(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    out = pattern_stats(request.app.state.engine)
    return {**out, "last_detection": iso(out["last_detection"])}


@router.get("/ml", summary="Registered versions, the champion and the online head, predictions served", response_model=MlStats)
def ml(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    state = request.app.state
    versions = [v for v in Recorder(state.settings.tracking_uri).versions() if v.name == FUSED_MODEL]
    champion, online = state.champion.served, state.online.served
    served = prediction_counts(state.engine)
    return {"model": FUSED_MODEL, "versions": len(versions), "champion_version": champion.version if champion else None,
            "champion_wf_auc": plain(champion.metrics.get("wf_auc")) if champion else None,
            "online_head_version": online.version if online else None, "predictions_logged": served["predictions"],
            "last_prediction_at": iso(served["last_prediction_at"])}


@router.get("/system", summary="Process, versions, database and row counts", response_model=SystemStats)
def system(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    engine = request.app.state.engine
    return {"uptime_s": round(time.time() - STARTED, 3), "pid": os.getpid(), "python": platform.python_version(),
            "packages": {p: version(p) for p in ("bentoml", "mlflow", "dagster", "torch", "pandas", "scikit-learn")},
            "database": engine.dialect.name, "series": len(coverage(engine)), "rows": row_counts(engine)}
