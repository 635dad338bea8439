"""The model's life beyond one prediction: training runs, the online line, live performance."""

from collections import Counter

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from pipelines.status import OrchestratorUnavailable, submit
from serving.auth import require
from serving.champion import NoChampion, Served
from serving.errors import ApiError
from serving.routers.ml import SeriesRequest, Timeframe, _scored, served
from store.api_keys import Principal
from store.candles import load_candles
from store.predictions import load_predictions
from training.live import judged_by_labels, performance
from training.metrics import auc
from training.tracking import FUSED_MODEL

router = APIRouter(prefix="/api/ml", tags=["ml"])


class TrainRequest(BaseModel):
    note: str | None = Field(None, max_length=200, description="recorded as a run tag")


def _launch(request: Request, job: str, who: Principal | None, note: str | None = None) -> dict:
    tags = {"tx/launched_by": who.name if who else "anonymous", "tx/launched_via": "http"}
    if note:
        tags["tx/note"] = note
    settings = request.app.state.settings
    try:
        run_id = submit(settings, job, tags)
    except OrchestratorUnavailable as exc:
        raise ApiError(503, str(exc), "orchestrator_unavailable") from None
    return {"job": job, "run_id": run_id, "status": "submitted",
            "dagster_url": f"http://{settings.host}:{settings.dagster_port}/runs/{run_id}"}


@router.post("/train", status_code=202, summary="Launch a training run through Dagster (admin); the gate decides promotion")
def train(request: Request, body: TrainRequest | None = None, who: Principal | None = Depends(require("admin"))) -> dict:
    return _launch(request, "training_job", who, body.note if body else None)


@router.post("/online-update", status_code=202,
             summary="Fold newly matured outcomes into the online line (launches the online job through Dagster)")
def online_update(request: Request, who: Principal | None = Depends(require("trade"))) -> dict:
    return {**_launch(request, "online_job", who),
            "what": "the online job reads the labels that matured in the stored candles since the line last learned, "
                    "takes a warm-started stacker step and puts the new version through the gate"}


async def online_model(request: Request) -> Served:
    try:
        return request.app.state.online.current()
    except NoChampion as exc:
        raise ApiError(503, str(exc), "no_model") from None


@router.post("/online-predict", summary="Score with the head of the online line (the newest version)")
def online_predict(request: Request, body: SeriesRequest, model: Served = Depends(online_model),
                   _: Principal | None = Depends(require("read"))) -> dict:
    return {**_scored(request, body, model, "online_predict"), "line": "online"}


@router.get("/online-status", summary="The online line: samples seen, last update, prequential AUC")
def online_status(model: Served = Depends(online_model), _: Principal | None = Depends(require("read"))) -> dict:
    m = model.model
    history = m.online if m.online is not None else pd.DataFrame(columns=["time", "series", "y", "p", "scored_by"])
    out = {"name": FUSED_MODEL, "version": model.version, "loaded_at": model.loaded_at, "base_version": model.tags.get("tx.parent_version"),
           "samples_seen": len(history), "trained_through": m.trained_through, "knowledge_cutoff": m.knowledge_cutoff,
           "prequential_auc": None, "by_series": dict(Counter(history["series"])) if len(history) else {},
           "metrics": model.metrics}
    if len(history):
        a = auc(history["y"].to_numpy(), history["p"].to_numpy())
        out["prequential_auc"] = None if pd.isna(a) else round(a, 4)
        out["last_sample_at"] = pd.Timestamp(history["time"].max()).isoformat()
    return out


@router.get("/performance", summary="Live performance of served predictions whose labels have matured")
def live_performance(request: Request, timeframe: Timeframe | None = None, period: str = Query("M", pattern="^(D|W|M|Q)$"),
                     model: Served = Depends(served), _: Principal | None = Depends(require("read"))) -> dict:
    engine = request.app.state.engine
    predictions = load_predictions(engine, FUSED_MODEL)
    if timeframe is not None:
        predictions = predictions[predictions["timeframe"] == timeframe]
    config = model.model.label_config or {}
    return {"name": FUSED_MODEL, "served_version": model.version, "label_config": config, "period": period,
            "judged_by": "the triple-barrier label each prediction's bar matured to (take-profit first = 1)",
            **performance(judged_by_labels(predictions, config, stored_candles(engine)), period)}


def stored_candles(engine):
    """The candles_of callable of training.live.judged_by_labels, on the app database."""
    return lambda symbol, timeframe: load_candles(engine, symbol, timeframe)