"""The market scan: every stored series scored by the champion at its latest bar.

Each (version, series, last bar) is scored once per worker and then served from memory,
so the scan costs one coverage query until a new bar or a new champion arrives.
"""

from cachetools import LRUCache
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from serving.auth import require
from serving.champion import Served
from serving.deps import cached, model_of, scored
from serving.errors import ApiError
from serving.schemas.common import AUTH, Timeframe, errors
from serving.schemas.ml import MarketScan
from serving.schemas.series import SeriesRequest
from store.api_keys import Principal
from store.candles import coverage
from training.scoring import MIN_BARS

router = APIRouter(prefix="/api", tags=["market"], responses=errors(*AUTH))
_scanned: LRUCache = LRUCache(maxsize=10_000)


@router.get("/market-scan", summary="Latest scan: per series, the fused probability, direction and top patterns",
            response_model=MarketScan)
def market_scan(request: Request, timeframe: Timeframe | None = None,
                min_confidence: float = Query(0.0, ge=0, le=1, allow_inf_nan=False, description="keep rows at least this confident"),
                _: Principal | None = Depends(require("read"))) -> Response:
    model = model_of(request)
    return cached(request, lambda: _scan(request, timeframe, min_confidence, model))


def _scan(request: Request, timeframe: str | None, min_confidence: float, model: Served) -> dict:
    rows, skipped = [], []
    for s in coverage(request.app.state.engine).itertuples():
        if timeframe is not None and s.timeframe != timeframe:
            continue
        if s.bars < MIN_BARS:
            skipped.append({"symbol": s.symbol, "timeframe": s.timeframe, "reason": f"{s.bars} bars (< {MIN_BARS})"})
            continue
        key = (model.version, s.symbol, s.timeframe, s.last)
        if key not in _scanned:
            try:
                view = scored(request, SeriesRequest(symbol=s.symbol, timeframe=s.timeframe), model, "market_scan")
            except ApiError as exc:
                skipped.append({"symbol": s.symbol, "timeframe": s.timeframe, "reason": exc.message})
                continue
            _scanned[key] = {"symbol": s.symbol, "timeframe": s.timeframe, "as_of": view["as_of"],
                             "probability": view["probability"], "direction": view["direction"], "confidence": view["confidence"],
                             "top_patterns": view["patterns"][:3]}
        rows.append(_scanned[key])
    rows = sorted((r for r in rows if r["confidence"] >= min_confidence), key=lambda r: -r["confidence"])
    return {"model_version": model.version, "count": len(rows), "results": rows, "skipped": skipped}
