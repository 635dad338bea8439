"""Candlestick patterns over HTTP: the catalogue, detection on given or stored candles (also
with the fused model's view), stored detections, the heatmap, point-in-time confidences,
outcomes and per-pattern performance, explanation, validation and a one-pattern backtest.

A detection's outcome is the close `horizon` bars later, signed by its direction
(trading/patterns.py); confidences follow features/patterns.py, point in time. Request and
answer models: serving/schemas/patterns.py."""

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from cachetools import LRUCache
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from features.patterns import (HORIZON, PATTERNS, PRIOR, PRIOR_STRENGTH, BaseRates, catalogue, detections, display_name,
                               raw_patterns)
from market.files import bundled_candles
from serving.auth import require
from serving.champion import NoChampion
from serving.deps import cached, candles_of, model_of
from serving.errors import ApiError
from serving.schemas.common import AUTH, SYMBOL, Timeframe, described, errors
from serving.schemas.patterns import (DetectRequest, EnhancedDetections, ExplainRequest, MAX_HORIZON, PatternBacktest,
                                      PatternBacktestRequest, PatternConfidences, PatternDetections, PatternExplanation,
                                      PatternHeatmap, PatternHistory, PatternList, PatternName, PatternPerformance,
                                      PatternPerformanceSummary, PatternValidation, StoredDetections, ValidateRequest)
from store.api_keys import Principal
from store.candles import coverage, load_candles
from store.outcomes import load_outcomes
from store.patterns import load_detections
from store.types import iso
from trading.patterns import detection_returns, pattern_performance

router = APIRouter(prefix="/api", tags=["patterns"], responses=errors(*AUTH))
INVALID = "Invalid input (`invalid_request`): the message names the field and why"
STORED = "No stored candles for that symbol and timeframe"
SERIES = {404: STORED, 409: "Too few stored bars for the computation (`too_few_bars`)",
          422: f"{INVALID}; candles given out of order or inconsistent (`bad_candles`)"}


def _rates(request: Request) -> BaseRates | float:
    """The served model's pooled rates, point in time; before any model, a flat 0.5."""
    try:
        return request.app.state.champion.current().model.base_rates()
    except NoChampion:
        return PRIOR


def _rows(found: pd.DataFrame) -> list[dict]:
    return [{"timestamp": iso(r.ts), "pattern": r.pattern, "direction": "bullish" if r.direction > 0 else "bearish",
             "strength": float(r.strength), "confidence": None if pd.isna(r.confidence) else round(float(r.confidence), 4)}
            for r in found.itertuples()]


@router.get("/patterns/list", summary="Supported patterns with their names and directions", response_model=PatternList)
def pattern_list(_: Principal | None = Depends(require("read"))) -> dict:
    return {"patterns": [{"pattern": p.pattern, "key": p.key, "name": p.name, "direction_on_bundled_data": p.direction}
                         for p in catalogue(bundled_candles)]}


@router.post("/detect", summary="Candlestick patterns in given or stored candles, with point-in-time confidences",
             response_model=PatternDetections, responses=described(SERIES))
def detect(request: Request, body: DetectRequest, _: Principal | None = Depends(require("read"))) -> dict:
    candles, _news = candles_of(request, body)
    found = detections(candles, body.timeframe, prior=_rates(request))
    found = found[found["ts"] >= candles.index[-min(body.last_bars, len(candles))]]
    return {"symbol": body.symbol, "timeframe": body.timeframe, "bars": len(candles), "detections": _rows(found)}


@router.get("/pattern-heatmap", summary="Detections per symbol x timeframe x pattern over the recent window", response_model=PatternHeatmap)
def heatmap(request: Request, days: int = Query(365, ge=1, le=36_500), _: Principal | None = Depends(require("read"))) -> Response:
    def build() -> dict:
        found = load_detections(request.app.state.engine)
        if found.empty:
            return {"days": days, "cells": []}
        found = found[found["ts"] >= found["ts"].max() - timedelta(days=days)]
        counts = found.groupby(["symbol", "timeframe", "pattern"]).size().reset_index(name="count")
        return {"days": days, "cells": counts.to_dict(orient="records")}
    return cached(request, build)


# -- outcomes, confidences, performance ------------------------------------------------

Horizon = Query(HORIZON, ge=1, le=MAX_HORIZON, description="bars after the detection that decide its outcome")
_returns: LRUCache = LRUCache(maxsize=256)


def _series_returns(request: Request, symbol: str, timeframe: str, horizon: int) -> pd.DataFrame:
    """Every detection of a stored series with its outcome; cached per (series, last bar, horizon)."""
    candles = load_candles(request.app.state.engine, symbol, timeframe)
    if candles.empty:
        raise ApiError(404, f"no stored candles for {symbol}:{timeframe}")
    key = (symbol, timeframe, candles.index[-1], len(candles), horizon)
    if key not in _returns:
        _returns[key] = detection_returns(candles, horizon)
    return _returns[key]


def _records(frame: pd.DataFrame) -> list[dict]:
    out = frame.replace({np.nan: None}).to_dict(orient="records")
    for row in out:
        for k, v in row.items():
            if isinstance(v, float):
                row[k] = round(v, 6) if math.isfinite(v) else None  # a t-statistic of identical returns is infinite
            elif isinstance(v, pd.Timestamp):
                row[k] = iso(v)
        if "ts" in row:
            row["timestamp"] = row.pop("ts")
    return out


@router.get("/pattern-performance", summary="Per pattern and timeframe over the stored series: count, win rate, mean return, t-statistic",
            response_model=PatternPerformance, responses=described({404: STORED}))
def performance(request: Request, symbol: str | None = Query(None, pattern=SYMBOL), timeframe: Timeframe | None = None,
                horizon: int = Horizon, min_count: int = Query(1, ge=1, le=1_000_000), _: Principal | None = Depends(require("read"))) -> dict:
    series = coverage(request.app.state.engine)
    if symbol is not None:
        series = series[series["symbol"] == symbol]
    if timeframe is not None:
        series = series[series["timeframe"] == timeframe]
    if series.empty:
        raise ApiError(404, f"no stored series for {symbol or 'any symbol'}:{timeframe or 'any timeframe'}")
    parts = [_series_returns(request, r.symbol, r.timeframe, horizon).assign(timeframe=r.timeframe) for r in series.itertuples()]
    table = pattern_performance(pd.concat(parts, ignore_index=True), by=("pattern", "timeframe"))
    table = table[table["count"] >= min_count]
    return {"horizon": horizon, "series": [f"{r.symbol}:{r.timeframe}" for r in series.itertuples()], "patterns": _records(table)}


@router.get("/pattern-performance/summary", summary="Win rates per pattern from the outcomes clients logged (/api/outcomes/log)",
            response_model=PatternPerformanceSummary)
def performance_summary(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    logged = load_outcomes(request.app.state.engine)
    logged = logged[logged["pattern"].notna()]
    if logged.empty:
        return {"outcomes": 0, "patterns": [], "note": "no pattern outcomes logged yet: POST them to /api/outcomes/log"}
    table = logged.groupby("pattern").agg(count=("id", "size"), hits=("hit", "sum"), mean_return=("realized_return", "mean"))
    table["win_rate"] = table["hits"] / table["count"]
    table = table.reset_index().sort_values(["count", "pattern"], ascending=[False, True])
    return {"outcomes": len(logged), "patterns": _records(table.astype({"hits": int}))}


@router.get("/patterns/history/{symbol}", summary="Stored series' detections with their outcomes (pending until `horizon` bars passed)",
            response_model=PatternHistory, responses=described({404: STORED}))
def history(request: Request, symbol: str = Path(pattern=SYMBOL, examples=["GOOGL"]), timeframe: Timeframe = "1d",
            pattern: PatternName | None = Query(None, description="only this pattern: a TA-Lib name (CDLENGULFING) or key (engulfing)"),
            horizon: int = Horizon, limit: int = Query(100, ge=1, le=5_000), _: Principal | None = Depends(require("read"))) -> dict:
    rows = _series_returns(request, symbol, timeframe, horizon)
    if pattern is not None:
        rows = rows[rows["pattern"] == pattern]
    rows = rows.tail(limit).assign(direction=lambda f: np.where(f["direction"] > 0, "bullish", "bearish"),
                                   outcome=lambda f: np.where(f["hit"].isna(), "pending", np.where(f["hit"] == 1, "hit", "miss")))
    return {"symbol": symbol, "timeframe": timeframe, "horizon": horizon, "detections": _records(rows.drop(columns="hit"))}


@router.get("/patterns/confidence/{symbol}", summary="Point-in-time confidence each pattern would carry if detected at the next bar",
            response_model=PatternConfidences, responses=described({404: STORED}))
def confidence(request: Request, symbol: str = Path(pattern=SYMBOL, examples=["GOOGL"]), timeframe: Timeframe = "1d", horizon: int = Horizon,
               _: Principal | None = Depends(require("read"))) -> dict:
    rows = _series_returns(request, symbol, timeframe, horizon)
    last = load_candles(request.app.state.engine, symbol, timeframe, last=1).index[-1]
    known_at = pd.DatetimeIndex([last + pd.Timedelta(timeframe)])  # the close of the last bar
    rates = _rates(request)
    matured = rows[rows["hit"].notna()].groupby("pattern")["hit"].agg(["size", "sum"])
    out = []
    for name in PATTERNS:
        n, hits = (int(matured.at[name, "size"]), int(matured.at[name, "sum"])) if name in matured.index else (0, 0)
        prior = float(rates.at(name, known_at)[0]) if isinstance(rates, BaseRates) else rates
        out.append({"pattern": name, "matured": n, "hits": hits, "own_hit_rate": round(hits / n, 4) if n else None,
                    "prior": round(prior, 4), "confidence": round((hits + PRIOR_STRENGTH * prior) / (n + PRIOR_STRENGTH), 4)})
    out.sort(key=lambda r: (-r["matured"], r["pattern"]))
    return {"symbol": symbol, "timeframe": timeframe, "as_of": iso(last), "horizon": horizon,
            "prior": "pooled global rate of the served model" if isinstance(rates, BaseRates) else f"{PRIOR} (no model served yet)",
            "prior_strength": PRIOR_STRENGTH, "patterns": out}


def _bar(candles: pd.DataFrame, when: datetime) -> int:
    at = candles.index.get_indexer([pd.Timestamp(when).tz_convert("UTC")])[0]
    if at < 0:
        raise ApiError(422, f"no bar at {iso(pd.Timestamp(when))} in the candles ({iso(candles.index[0])} .. {iso(candles.index[-1])})",
                       "no_such_bar", field="timestamp")
    return int(at)


@router.post("/patterns/validate", summary="Check a claimed pattern at a bar against TA-Lib on the candles", response_model=PatternValidation,
             responses=described(SERIES | {422: f"{SERIES[422]}; a timestamp that is no bar of the candles (`no_such_bar`)"}))
def validate(request: Request, body: ValidateRequest, _: Principal | None = Depends(require("read"))) -> dict:
    candles, _news = candles_of(request, body, last=None)
    name = body.pattern
    at = _bar(candles, body.timestamp)
    row = raw_patterns(candles)[PATTERNS.index(name)]
    near = np.flatnonzero(row[max(0, at - 5): at + 6]) + max(0, at - 5)
    value = int(row[at])
    return {"pattern": name, "timestamp": iso(candles.index[at]), "valid": value != 0,
            "direction": None if value == 0 else "bullish" if value > 0 else "bearish", "strength": abs(value) / 100,
            "nearby": [{"timestamp": iso(candles.index[i]), "direction": "bullish" if row[i] > 0 else "bearish"} for i in near if i != at]}


@router.post("/patterns/explain", summary="A detection in plain language: what the pattern is, its track record here, what followed",
             response_model=PatternExplanation,
             responses=described(SERIES | {404: f"{STORED}, or the pattern is not detected there",
                                           422: f"{SERIES[422]}; a timestamp that is no bar of the candles (`no_such_bar`)"}))
def explain(request: Request, body: ExplainRequest, _: Principal | None = Depends(require("read"))) -> dict:
    candles, _news = candles_of(request, body, last=None)
    name = body.pattern
    rows = detection_returns(candles, body.horizon)
    mine = rows[rows["pattern"] == name].reset_index(drop=True)
    if body.timestamp is not None:
        mine = mine[mine["ts"] == candles.index[_bar(candles, body.timestamp)]]
    if mine.empty:
        where = f"at {iso(pd.Timestamp(body.timestamp))}" if body.timestamp else "in these candles"
        raise ApiError(404, f"{name} is not detected {where}; /api/patterns/validate shows what TA-Lib sees")
    hit = mine.iloc[-1]
    k = int(mine.index[-1])
    earlier = rows[(rows["pattern"] == name)].iloc[:k]
    bars = candles.index.get_indexer([hit.ts])[0]
    matured = earlier[earlier["hit"].notna() & (candles.index.get_indexer(earlier["ts"]) + body.horizon <= bars)]
    rates = _rates(request)
    prior = float(rates.at(name, pd.DatetimeIndex([hit.ts + pd.Timedelta(body.timeframe)]))[0]) if isinstance(rates, BaseRates) else rates
    conf = (matured["hit"].sum() + PRIOR_STRENGTH * prior) / (len(matured) + PRIOR_STRENGTH)
    display = display_name(name)
    direction = "bullish" if hit.direction > 0 else "bearish"
    words = [f"{display} ({direction}, strength {hit.strength:g}) at {iso(hit.ts)}"
             + (f" on {body.symbol} {body.timeframe}." if body.symbol else "."),
             f"Before it, {len(matured)} earlier {display} detection(s) here had matured, {int(matured['hit'].sum())} of them hits"
             + (f" ({matured['hit'].mean():.0%})." if len(matured) else "."),
             f"Shrunk toward the pooled rate {prior:.0%} with the weight of {PRIOR_STRENGTH:g} detections, its point-in-time "
             f"confidence is {conf:.0%} that price is {'higher' if hit.direction > 0 else 'lower'} {body.horizon} bars later."]
    if pd.notna(hit["return"]):
        words.append(f"It was a {'hit' if hit['hit'] == 1 else 'miss'}: {hit['return']:+.2%} in its direction after {body.horizon} bars.")
    else:
        words.append(f"Its outcome is still pending ({body.horizon} bars have not passed yet).")
    return {"pattern": name, "name": display, "timestamp": iso(hit.ts), "direction": direction, "strength": float(hit.strength),
            "earlier_matured": len(matured), "earlier_hits": int(matured["hit"].sum()), "prior": round(prior, 4),
            "confidence": round(float(conf), 4), "outcome_return": None if pd.isna(hit["return"]) else round(float(hit["return"]), 6),
            "explanation": " ".join(words)}


@router.post("/patterns/backtest", summary="Backtest one pattern: enter at each detection's close, exit `horizon` bars later",
             response_model=PatternBacktest,
             responses=described(SERIES | {422: f"{SERIES[422]}; a horizon not shorter than the series (`short_series`)"}))
def backtest(request: Request, body: PatternBacktestRequest, _: Principal | None = Depends(require("read"))) -> dict:
    candles, _news = candles_of(request, body, last=None)
    name = body.pattern
    if body.horizon >= len(candles):
        raise ApiError(422, f"horizon {body.horizon} is not shorter than the {len(candles)} bars given", "short_series", field="horizon")
    rows = detection_returns(candles, body.horizon)
    rows = rows[rows["pattern"] == name]
    stats = pattern_performance(rows) if len(rows) else pd.DataFrame()
    summary = _records(stats)[0] if len(stats) else {"pattern": name, "count": 0, "matured": 0}
    trades = rows[rows["return"].notna()]
    return {"symbol": body.symbol, "timeframe": body.timeframe, "horizon": body.horizon, "bars": len(candles), **summary,
            "compounded_return": round(float(np.prod(1 + trades["return"].to_numpy()) - 1), 6) if len(trades) else 0.0,
            "trades": _records(trades.assign(direction=np.where(trades["direction"] > 0, "long", "short")).drop(columns=["pattern", "hit"]))}


# after the static /patterns/... paths: /api/patterns/backtest is theirs (OPTIONS answers Allow: POST), and
# GET /api/patterns/backtest reads the stored detections of a symbol named "backtest" (none: an empty list)
@router.get("/patterns/{symbol}", summary="Recent stored detections of a symbol (the patterns asset writes them)",
            response_model=StoredDetections)
def stored_patterns(request: Request, symbol: str = Path(pattern=SYMBOL, examples=["GOOGL"]), timeframe: Timeframe = "1d",
                    limit: int = Query(50, ge=1, le=5_000), _: Principal | None = Depends(require("read"))) -> Response:
    def build() -> dict:
        found = load_detections(request.app.state.engine, symbol, timeframe)
        return {"symbol": symbol, "timeframe": timeframe, "detections": _rows(found.tail(limit))}
    return cached(request, build)


@router.post("/detect-enhanced", summary="Detections with the fused model's probability at each detection bar",
             response_model=EnhancedDetections, responses=described(SERIES))
def detect_enhanced(request: Request, body: DetectRequest, _: Principal | None = Depends(require("read"))) -> dict:
    model = model_of(request)  # after validation: a malformed body is a 422 whatever the model state
    candles, news = candles_of(request, body)
    found = detections(candles, body.timeframe, prior=model.model.base_rates())
    found = found[found["ts"] >= candles.index[-min(body.last_bars, len(candles))]]
    X, windows = model.model.inputs(candles, body.timeframe, news)
    at = X.index.get_indexer(pd.DatetimeIndex(found["ts"].unique()))
    p_up = pd.Series(model.model.explain_inputs(X.iloc[at], windows[at])["probability"].to_numpy(), index=X.index[at])
    rows = []
    for r, base in zip(found.itertuples(), _rows(found), strict=True):
        p = float(p_up[r.ts])
        model_conf = p if r.direction > 0 else 1 - p
        rows.append({**base, "model_probability_up": round(p, 4), "model_agrees": model_conf > 0.5,
                     "enhanced_confidence": round(model_conf, 4)})
    return {"symbol": body.symbol, "timeframe": body.timeframe, "model_version": model.version, "bars": len(candles),
            "enhanced_confidence": "the fused model's probability that price moves in the pattern's direction at that bar",
            "detections": rows}
