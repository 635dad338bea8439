"""The fused predictor over HTTP: scoring, layer views, models, promotion.

The served model is looked up inside each handler (`model_of`), after FastAPI validated the
request: a malformed request is a 422 whatever the model state, a valid one a 503 while no
model is served."""

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from serving.auth import require
from serving.deps import candles_of, model_of, rl_answer, scored
from serving.errors import ApiError
from serving.schemas.common import AUTH, SYMBOL, Timeframe, errors
from serving.schemas.ml import (ActiveVersion, BatchRequest, BatchScores, DeepLayer, FeatureContributions, LayerAttribution,
                                ModelInfo, Models, MultiTimeframeLayer, Promotion, PromoteRequest, RlAction, RlRequest, Score)
from serving.schemas.series import SeriesRequest
from serving.scores import deep_answer, features_answer, layers_answer, multitimeframe_answer
from store.api_keys import Principal
from store.types import plain
from training import scoring
from training.promotion import gate, recorded
from training.recorder import FUSED_MODEL, Recorder

router = APIRouter(prefix="/api/ml", tags=["ml"], responses=errors(*AUTH))
SERIES = errors(404, 409, 413)  # a stored series that is not there / too short; a body over the limit
QUERIED = errors(404, 409)
SYMBOL_QUERY = Query(pattern=SYMBOL, description="a stored symbol", examples=["GOOGL"])


@router.post("/score", summary="Fused probability for a symbol or given candles", response_model=Score, responses=SERIES)
def score(request: Request, body: SeriesRequest, _: Principal | None = Depends(require("read"))) -> JSONResponse:
    # plain JSON types already: answered as is, no re-validation or re-encoding pass on the hot path
    return JSONResponse(scored(request, body, model_of(request)))


@router.post("/score/batch", summary="Score up to 100 series with one model version", response_model=BatchScores,
             response_model_exclude_unset=True, responses=errors(413))
def score_batch(request: Request, body: BatchRequest, _: Principal | None = Depends(require("read"))) -> dict:
    model = model_of(request)
    results = []
    for item in body.items:
        try:
            results.append(scored(request, item, model, "score_batch"))
        except ApiError as exc:  # one bad item does not sink the batch
            results.append({"symbol": item.symbol, "error": {"code": exc.code, "message": exc.message}})
    return {"model_version": model.version, "results": results}


@router.post("/deep-detect", summary="The deep layer (CNN + LSTM) on the latest window", response_model=DeepLayer, responses=SERIES)
def deep_detect(request: Request, body: SeriesRequest, _: Principal | None = Depends(require("read"))) -> dict:
    candles, _news = candles_of(request, body)
    return {"symbol": body.symbol, **deep_answer(scoring.deep_layer(model_of(request), candles, body.timeframe))}


@router.post("/multi-timeframe", summary="The multi-timeframe layer and the features that move it", response_model=MultiTimeframeLayer,
             responses=SERIES)
def multi_timeframe(request: Request, body: SeriesRequest, _: Principal | None = Depends(require("read"))) -> dict:
    candles, _news = candles_of(request, body)
    return {"symbol": body.symbol, **multitimeframe_answer(scoring.multitimeframe_layer(model_of(request), candles, body.timeframe))}


@router.get("/feature-contrib", summary="Layer contributions and the multi-timeframe features behind a prediction",
            response_model=FeatureContributions, responses=QUERIED)
def feature_contrib(request: Request, symbol: str = SYMBOL_QUERY, timeframe: Timeframe = "1d",
                    _: Principal | None = Depends(require("read"))) -> dict:
    model = model_of(request)
    candles, news = candles_of(request, SeriesRequest(symbol=symbol, timeframe=timeframe))
    inputs = model.model.inputs(candles, timeframe, news)  # once, for both views
    view = scoring.score(model, candles, timeframe, news, inputs)
    return {"symbol": symbol, "timeframe": timeframe, "model_version": model.version, "probability": view.probability,
            "base": view.base, "layers": layers_answer(view),
            "multitimeframe_features": features_answer(scoring.multitimeframe_layer(model, candles, timeframe, inputs=inputs))}


@router.get("/layer-attribution", summary="Each layer's contribution now and its walk-forward track record",
            response_model=LayerAttribution, responses=QUERIED)
def layer_attribution(request: Request, symbol: str = SYMBOL_QUERY, timeframe: Timeframe = "1d",
                      _: Principal | None = Depends(require("read"))) -> dict:
    model = model_of(request)
    view = scored(request, SeriesRequest(symbol=symbol, timeframe=timeframe), model, "layer_attribution")
    weights = model.model.stacker.weights()
    return {"symbol": symbol, "timeframe": timeframe, "model_version": model.version, "probability": view["probability"],
            "layers": {name: {**view["layers"][name], "stacker_weight": round(weights[name], 6),
                              "walk_forward_auc": plain(model.metrics.get(f"auc_{name}"))} for name in model.model.layer_names}}


@router.get("/models", summary="Registered models and versions with their aliases and gate decisions", response_model=Models)
def models(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    out = []
    for v in Recorder(request.app.state.settings.tracking_uri).versions():
        decision = recorded(v)
        out.append({"name": v.name, "version": v.version, "aliases": list(v.aliases), "run_id": v.run_id,
                    "gate": decision.record() if decision else {}})
    return {"models": out}


@router.get("/model-info", summary="The served model: version, metrics, lineage", response_model=ModelInfo)
def model_info(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    model = model_of(request)
    lineage = {k.removeprefix("tx."): v for k, v in model.tags.items() if k.startswith("tx.") and not k.startswith("tx.note")}
    return {"name": FUSED_MODEL, "version": model.version, "run_id": model.run_id, "loaded_at": model.loaded_at,
            "layers": list(model.model.layer_names), "metrics": plain(model.metrics), "lineage": lineage,
            "label_config": model.model.label_config, "knowledge_cutoff": model.model.knowledge_cutoff}


@router.get("/active-version", summary="The champion version being served", response_model=ActiveVersion)
def active_version(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    model = model_of(request)
    return {"name": FUSED_MODEL, "version": model.version, "wf_auc": plain(model.metrics.get("wf_auc")), "loaded_at": model.loaded_at}


@router.post("/promote", summary="Put a version through the promotion gate (admin; `force` overrides it, recorded)",
             response_model=Promotion, responses=errors(404, 413))
def promote(request: Request, body: PromoteRequest, who: Principal | None = Depends(require("admin"))) -> dict:
    settings = request.app.state.settings
    recorder = Recorder(settings.tracking_uri)
    if not any(v.version == body.version for v in recorder.versions() if v.name == FUSED_MODEL):
        raise ApiError(404, f"{FUSED_MODEL} has no version {body.version}", field="version")
    decision = gate(recorder, FUSED_MODEL, body.version, settings.promotion_threshold, force=body.force,
                    actor=who.name if who else None)
    if decision.promoted:
        request.app.state.champion.refresh()  # this worker swaps now; the others within their poll interval
    return {"name": FUSED_MODEL, "version": decision.version, "promoted": decision.promoted, "reason": decision.reason,
            "forced": decision.forced, "decided_at": decision.decided_at}


@router.post("/rl-action", summary="The RL agent's action for a stored symbol and a position", response_model=RlAction,
             responses=errors(404, 409, 413, 503))
def rl_action(request: Request, body: RlRequest, _: Principal | None = Depends(require("read"))) -> dict:
    """The `tx-rl` champion decides on the last stored bar from the fused champion's probability,
    the features and the position (the body's, else the paper account's). Reads only: nothing
    is stored. 503 with Retry-After while either model is not served."""
    policy, fused = model_of(request, "rl"), model_of(request)
    return rl_answer(request, body, policy, fused)
