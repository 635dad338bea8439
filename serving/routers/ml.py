"""The fused predictor over HTTP: scoring, layer views, models, promotion."""

import time
from typing import Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from features.sentiment import scores_of
from market.frames import CandleFormatError, conform
from market.quality import validated
from market.universe import TIMEFRAMES
from serving import metrics
from training import scoring
from serving.auth import require
from serving.champion import NoChampion, Served
from serving.errors import ApiError
from store.api_keys import Principal
from store.candles import coverage, load_candles
from store.news import load_news
from training.promotion import gate
from training.tracking import FUSED_MODEL, client, registered_versions

router = APIRouter(prefix="/api/ml", tags=["ml"])
SYMBOL = r"^[A-Za-z0-9.^=_-]{1,32}$"
Timeframe = Literal[TIMEFRAMES]  # type: ignore[valid-type]
HISTORY_BARS = 600  # stored bars read to score a symbol: enough for exact indicators


class CandleIn(BaseModel):
    timestamp: AwareDatetime
    open: float = Field(gt=0)
    high: float = Field(gt=0)
    low: float = Field(gt=0)
    close: float = Field(gt=0)
    volume: float = Field(ge=0)


class SeriesRequest(BaseModel):
    """A stored series (`symbol`) or candles given in the body, oldest first."""

    symbol: str | None = Field(None, pattern=SYMBOL, description="score the latest stored candles of this symbol")
    timeframe: Timeframe = "1d"
    candles: list[CandleIn] | None = Field(None, min_length=scoring.MIN_BARS, max_length=20_000)

    @model_validator(mode="after")
    def _one_source(self) -> "SeriesRequest":
        if (self.symbol is None) == (self.candles is None):
            raise ValueError("give either `symbol` (stored candles) or `candles`, not both")
        return self


class BatchRequest(BaseModel):
    items: list[SeriesRequest] = Field(min_length=1, max_length=100)


class PromoteRequest(BaseModel):
    version: str = Field(pattern=r"^[0-9]{1,9}$")
    force: bool = False


async def served(request: Request) -> Served:  # async: no thread-pool hop for a reference read
    try:
        return request.app.state.champion.current()
    except NoChampion as exc:
        raise ApiError(503, str(exc), "no_model") from None


def candles_of(request: Request, body: SeriesRequest, last: int | None = HISTORY_BARS) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(candles, news scores) for the request: stored (the `last` bars; None: all) or given,
    checked like any ingested batch."""
    engine = request.app.state.engine
    if body.candles is not None:
        raw = pd.DataFrame([c.model_dump() for c in body.candles])
        try:
            frame = validated(conform(raw, "candles"), "candles")
        except CandleFormatError as exc:
            raise ApiError(422, str(exc)) from None
        return frame, None
    frame = load_candles(engine, body.symbol, body.timeframe, last=last)
    if frame.empty:
        stored = ", ".join(f"{r.symbol}:{r.timeframe}" for r in coverage(engine).itertuples()) or "none"
        raise ApiError(404, f"no stored candles for {body.symbol}:{body.timeframe}; stored: {stored}")
    if len(frame) < scoring.MIN_BARS:
        raise ApiError(422, f"{body.symbol}:{body.timeframe} has {len(frame)} stored bars; scoring needs {scoring.MIN_BARS}+")
    return frame, scores_of(load_news(engine, body.symbol))


def _scored(request: Request, body: SeriesRequest, model: Served, endpoint: str = "score") -> dict:
    started = time.perf_counter()

    def compute() -> dict:
        candles, news = candles_of(request, body)
        return scoring.score(model, candles, body.timeframe, news)

    if body.candles is not None:
        scored = compute()
    else:  # a stored series: reused for TX_READ_CACHE_S, logged once per bar to be judged when its label matures
        scored = request.app.state.scores.get((model.version, body.symbol, body.timeframe), compute)
        request.app.state.predictions.record(body.symbol, body.timeframe, scored)
    metrics.observe(endpoint, scored, time.perf_counter() - started)
    return {"symbol": body.symbol, **scored}


@router.post("/score", summary="Fused probability for a symbol or given candles")
def score(request: Request, body: SeriesRequest, model: Served = Depends(served), _: Principal | None = Depends(require("read"))) -> JSONResponse:
    return JSONResponse(_scored(request, body, model))  # plain JSON types already: no re-encoding pass on the hot path


@router.post("/score/batch", summary="Score up to 100 series with one model version")
def score_batch(request: Request, body: BatchRequest, model: Served = Depends(served), _: Principal | None = Depends(require("read"))) -> dict:
    results = []
    for item in body.items:
        try:
            results.append(_scored(request, item, model, "score_batch"))
        except ApiError as exc:  # one bad item does not sink the batch
            results.append({"symbol": item.symbol, "error": {"code": exc.code, "message": exc.message}})
    return {"model_version": model.version, "results": results}


@router.post("/deep-detect", summary="The deep layer (CNN + LSTM) on the latest window")
def deep_detect(request: Request, body: SeriesRequest, model: Served = Depends(served), _: Principal | None = Depends(require("read"))) -> dict:
    candles, _news = candles_of(request, body)
    return {"symbol": body.symbol, **scoring.deep_layer(model, candles, body.timeframe)}


@router.post("/multi-timeframe", summary="The multi-timeframe layer and the features that move it")
def multi_timeframe(request: Request, body: SeriesRequest, model: Served = Depends(served), _: Principal | None = Depends(require("read"))) -> dict:
    candles, _news = candles_of(request, body)
    return {"symbol": body.symbol, **scoring.multitimeframe_layer(model, candles, body.timeframe)}


@router.get("/feature-contrib", summary="Layer contributions and the multi-timeframe features behind a prediction")
def feature_contrib(request: Request, symbol: str = Query(pattern=SYMBOL), timeframe: Timeframe = "1d",
                    model: Served = Depends(served), _: Principal | None = Depends(require("read"))) -> dict:
    candles, news = candles_of(request, SeriesRequest(symbol=symbol, timeframe=timeframe))
    inputs = model.model.inputs(candles, timeframe, news)  # once, for both views
    scored = scoring.score(model, candles, timeframe, news, inputs)
    return {"symbol": symbol, "timeframe": timeframe, "model_version": model.version, "probability": scored["probability"],
            "base": scored["base"], "layers": scored["layers"],
            "multitimeframe_features": scoring.multitimeframe_layer(model, candles, timeframe, inputs=inputs)["features"]}


@router.get("/layer-attribution", summary="Each layer's contribution now and its walk-forward track record")
def layer_attribution(request: Request, symbol: str = Query(pattern=SYMBOL), timeframe: Timeframe = "1d",
                      model: Served = Depends(served), _: Principal | None = Depends(require("read"))) -> dict:
    scored = _scored(request, SeriesRequest(symbol=symbol, timeframe=timeframe), model, "layer_attribution")
    weights = model.model.stacker.weights()
    return {"symbol": symbol, "timeframe": timeframe, "model_version": model.version, "probability": scored["probability"],
            "layers": {name: {**scored["layers"][name], "stacker_weight": round(weights[name], 6),
                              "walk_forward_auc": model.metrics.get(f"auc_{name}")} for name in model.model.layer_names}}


@router.get("/models", summary="Registered models and versions with their aliases and gate decisions")
def models(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    mlflow_client = client(request.app.state.settings.tracking_uri)
    out = []
    for v in registered_versions(mlflow_client):
        tags = mlflow_client.get_model_version(v.name, v.version).tags or {}
        out.append({"name": v.name, "version": v.version, "aliases": list(v.aliases), "run_id": v.run_id,
                    "gate": {k.removeprefix("tx.gate."): val for k, val in tags.items() if k.startswith("tx.gate.")}})
    return {"models": out}


@router.get("/model-info", summary="The served model: version, metrics, lineage")
def model_info(model: Served = Depends(served), _: Principal | None = Depends(require("read"))) -> dict:
    lineage = {k.removeprefix("tx."): v for k, v in model.tags.items() if k.startswith("tx.") and not k.startswith("tx.note")}
    return {"name": FUSED_MODEL, "version": model.version, "run_id": model.run_id, "loaded_at": model.loaded_at,
            "layers": list(model.model.layer_names), "metrics": model.metrics, "lineage": lineage,
            "label_config": model.model.label_config, "knowledge_cutoff": model.model.knowledge_cutoff}


@router.get("/active-version", summary="The champion version being served")
def active_version(model: Served = Depends(served), _: Principal | None = Depends(require("read"))) -> dict:
    return {"name": FUSED_MODEL, "version": model.version, "wf_auc": model.metrics.get("wf_auc"), "loaded_at": model.loaded_at}


@router.post("/promote", summary="Put a version through the promotion gate (admin; `force` overrides it, recorded)")
def promote(request: Request, body: PromoteRequest, who: Principal | None = Depends(require("admin"))) -> dict:
    settings = request.app.state.settings
    mlflow_client = client(settings.tracking_uri)
    if not any(v.version == body.version for v in registered_versions(mlflow_client) if v.name == FUSED_MODEL):
        raise ApiError(404, f"{FUSED_MODEL} has no version {body.version}")
    decision = gate(mlflow_client, FUSED_MODEL, body.version, settings.promotion_threshold, force=body.force,
                    actor=who.name if who else None)
    if decision.promoted:
        request.app.state.champion.refresh()  # this worker swaps now; the others within their poll interval
    return {"name": FUSED_MODEL, "version": decision.version, "promoted": decision.promoted, "reason": decision.reason,
            "forced": decision.forced, "decided_at": decision.decided_at}


@router.post("/rl-action", summary="Reinforcement-learning agent (not built yet)", status_code=501)
def rl_action(_: Principal | None = Depends(require("read"))) -> dict:
    raise ApiError(501, "the reinforcement-learning agent is not part of this release yet; the fused predictor is at /api/ml/score")



