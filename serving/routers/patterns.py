"""Candlestick patterns over HTTP: the catalogue, detection on given or stored candles, stored
detections and the symbol x timeframe x pattern heatmap."""

from datetime import timedelta
from functools import cache

import numpy as np
import pandas as pd
import talib.abstract
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field

from features.patterns import PATTERNS, PRIOR, BaseRates, detections, raw_patterns
from market.files import bundled
from serving.auth import require
from serving.champion import NoChampion
from serving.routers.market import iso
from serving.routers.ml import SYMBOL, SeriesRequest, Timeframe, candles_of
from store.api_keys import Principal
from store.patterns import load_detections

router = APIRouter(prefix="/api", tags=["patterns"])


@cache
def catalogue() -> list[dict]:
    """Every TA-Lib pattern with its name and the directions it signalled on the bundled data."""
    signs: dict[str, set[int]] = {p: set() for p in PATTERNS}
    for series in bundled().listing():
        raw = raw_patterns(bundled().read(series))
        for k, name in enumerate(PATTERNS):
            signs[name] |= set(np.sign(raw[k][raw[k] != 0]).tolist())
    out = []
    for name in PATTERNS:
        seen = signs[name]
        direction = "both" if seen == {1, -1} else "bullish" if seen == {1} else "bearish" if seen == {-1} else "not seen"
        out.append({"pattern": name, "key": name[3:].lower(), "name": talib.abstract.Function(name).info["display_name"],
                    "direction_on_bundled_data": direction})
    return out


class DetectRequest(SeriesRequest):
    last_bars: int = Field(50, ge=1, le=5_000, description="report detections in the last n bars")


def _rates(request: Request) -> BaseRates | float:
    try:
        return BaseRates(request.app.state.champion.current().model.base_rates_table)
    except NoChampion:
        return PRIOR  # no model yet: confidences shrink toward 0.5


def _rows(found: pd.DataFrame) -> list[dict]:
    return [{"timestamp": iso(r.ts), "pattern": r.pattern, "direction": "bullish" if r.direction > 0 else "bearish",
             "strength": float(r.strength), "confidence": None if pd.isna(r.confidence) else round(float(r.confidence), 4)}
            for r in found.itertuples()]


@router.get("/patterns/list", summary="Supported patterns with their names and directions")
def pattern_list(_: Principal | None = Depends(require("read"))) -> dict:
    return {"patterns": catalogue()}


@router.post("/detect", summary="Candlestick patterns in given or stored candles, with point-in-time confidences")
def detect(request: Request, body: DetectRequest, _: Principal | None = Depends(require("read"))) -> dict:
    candles, _news = candles_of(request, body)
    found = detections(candles, body.timeframe, prior=_rates(request))
    found = found[found["ts"] >= candles.index[-min(body.last_bars, len(candles))]]
    return {"symbol": body.symbol, "timeframe": body.timeframe, "bars": len(candles), "detections": _rows(found)}


@router.get("/patterns/{symbol}", summary="Recent stored detections of a symbol (the patterns asset writes them)")
def stored_patterns(request: Request, symbol: str = Path(pattern=SYMBOL), timeframe: Timeframe = "1d",
                    limit: int = Query(50, ge=1, le=5_000), _: Principal | None = Depends(require("read"))) -> dict:
    found = load_detections(request.app.state.engine, symbol, timeframe)
    return {"symbol": symbol, "timeframe": timeframe, "detections": _rows(found.tail(limit))}


@router.get("/pattern-heatmap", summary="Detections per symbol x timeframe x pattern over the recent window")
def heatmap(request: Request, days: int = Query(365, ge=1, le=36_500), _: Principal | None = Depends(require("read"))) -> dict:
    found = load_detections(request.app.state.engine)
    if found.empty:
        return {"days": days, "cells": []}
    found = found[found["ts"] >= found["ts"].max() - timedelta(days=days)]
    counts = found.groupby(["symbol", "timeframe", "pattern"]).size().reset_index(name="count")
    return {"days": days, "cells": counts.to_dict(orient="records")}
