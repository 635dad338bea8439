"""The model's life beyond one prediction: training runs, the online line, live performance."""

from collections import Counter
from typing import Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request

from pipelines.status import OrchestratorUnavailable, submit
from serving.auth import require
from serving.deps import model_of, scored, stored_candles
from serving.errors import ApiError
from serving.schemas.common import AUTH, Timeframe, errors
from serving.schemas.ml import Launched, LivePerformance, OnlineScore, OnlineStatus, TrainRequest
from serving.schemas.series import SeriesRequest
from store.api_keys import Principal
from store.predictions import load_predictions
from store.types import plain
from training.live import judged_by_labels, performance
from training.metrics import auc
from training.recorder import FUSED_MODEL

router = APIRouter(prefix="/api/ml", tags=["ml"], responses=errors(*AUTH))
ORCHESTRATOR_RETRY_S = 30  # how long a client should wait for the Dagster webserver to come up


def _launch(request: Request, job: str, who: Principal | None, note: str | None = None) -> dict:
    tags = {"tx/launched_by": who.name if who else "anonymous", "tx/launched_via": "http"}
    if note:
        tags["tx/note"] = note
    settings = request.app.state.settings
    try:
        run_id = submit(settings, job, tags)
    except OrchestratorUnavailable as exc:  # its message is one short line: where, and `make run`
        raise ApiError(503, str(exc), "orchestrator_unavailable", headers={"Retry-After": str(ORCHESTRATOR_RETRY_S)}) from None
    return {"job": job, "run_id": run_id, "status": "submitted",
            "dagster_url": f"http://{settings.host}:{settings.dagster_port}/runs/{run_id}"}


@router.post("/train", status_code=202, response_model=Launched, response_model_exclude_unset=True, responses=errors(413),
             summary="Launch a training run through Dagster (admin); the gate decides promotion. 503 while no Dagster webserver runs")
def train(request: Request, body: TrainRequest | None = None, who: Principal | None = Depends(require("admin"))) -> dict:
    return _launch(request, "training_job", who, body.note if body else None)


ONLINE_UPDATE_WHY = (
    "Only labels computed from stored candles teach the model; a body is not read. A label is a function of the "
    "stored bars and the model's own label spec (triple barrier, its horizon), so the online step computes it where "
    "it can be checked: a label sent by a client cannot be checked against the bars, may come from another spec or "
    "from bars after the one it labels (look-ahead), and one bad or hostile client could poison every version after "
    "it. The step runs on whatever has matured in the stored candles since the line last learned; to record what "
    "became of a signal or trade, use POST /api/outcomes/log (kept for the statistics, never learned from).")


@router.post("/online-update", status_code=202, response_model=Launched,
             summary="Launch an online-learning step on the labels matured in the stored candles (through Dagster; "
                     "503 while no Dagster webserver runs)", description=ONLINE_UPDATE_WHY)
def online_update(request: Request, who: Principal | None = Depends(require("trade"))) -> dict:
    return {**_launch(request, "online_job", who),
            "what": "the online job reads the labels that matured in the stored candles since the line last learned "
                    "(a request body is not read), takes a warm-started, recency-weighted stacker step and puts the "
                    "new version through the gate"}


@router.post("/online-predict", summary="Score with the head of the online line (the newest version)", response_model=OnlineScore,
             response_model_exclude_unset=True, responses=errors(404, 409, 413))
def online_predict(request: Request, body: SeriesRequest, _: Principal | None = Depends(require("read"))) -> dict:
    return {**scored(request, body, model_of(request, "online"), "online_predict"), "line": "online"}


@router.get("/online-status", summary="The online line: samples seen, last update, prequential AUC", response_model=OnlineStatus,
            response_model_exclude_unset=True)
def online_status(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    model = model_of(request, "online")
    m = model.model
    history = m.online if m.online is not None else pd.DataFrame(columns=["time", "series", "y", "p", "scored_by"])
    out = {"name": FUSED_MODEL, "version": model.version, "loaded_at": model.loaded_at, "base_version": model.tags.get("tx.parent_version"),
           "samples_seen": len(history), "trained_through": m.trained_through, "knowledge_cutoff": m.knowledge_cutoff,
           "prequential_auc": None, "by_series": dict(Counter(history["series"])) if len(history) else {},
           "metrics": plain(model.metrics)}
    if len(history):
        a = auc(history["y"].to_numpy(), history["p"].to_numpy())
        out["prequential_auc"] = None if pd.isna(a) else round(a, 4)
        out["last_sample_at"] = pd.Timestamp(history["time"].max()).isoformat()
    return out


@router.get("/performance", summary="Live performance of served predictions whose labels have matured", response_model=LivePerformance)
def live_performance(request: Request, timeframe: Timeframe | None = None,
                     period: Literal["D", "W", "M", "Q"] = Query("M", description="D, W, M or Q: the periods of `over_time`"),
                     _: Principal | None = Depends(require("read"))) -> dict:
    model = model_of(request)
    engine = request.app.state.engine
    predictions = load_predictions(engine, FUSED_MODEL)
    if timeframe is not None:
        predictions = predictions[predictions["timeframe"] == timeframe]
    config = model.model.label_config or {}
    return plain({"name": FUSED_MODEL, "served_version": model.version, "label_config": config, "period": period,
                  "judged_by": "the triple-barrier label each prediction's bar matured to (take-profit first = 1)",
                  **performance(judged_by_labels(predictions, config, stored_candles(engine)), period)})
