"""Market data reads: candles, snapshots, the universe and its coverage.

Every read here is answered from the per-worker cache (serving/deps.py `cached`) as
ready-made JSON; the models of serving/schemas/market.py document those answers."""

from datetime import datetime
from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from features.indicators import indicators
from market.quality import missing_bars
from market.universe import timeframe_delta
from serving.auth import require
from serving.deps import cached
from serving.errors import ApiError
from serving.schemas.common import AUTH, SYMBOL, Instant, Timeframe, described, errors
from serving.schemas.market import MAX_BARS, Candles, DataCoverage, Intraday, MarketData, Snapshot, Symbols
from store.api_keys import Principal
from store.candles import coverage, load_candles, providers_by_series
from store.types import iso, plain

router = APIRouter(prefix="/api", tags=["market"], responses=errors(*AUTH))
INVALID = "Invalid input (`invalid_request`): the message names the field and why"
STORED = described({404: "No stored candles for that symbol and timeframe (the message lists what is stored)"})
WINDOWED = STORED | described({422: f"{INVALID}; `start` after `end`: `bad_window`"})
WINDOW = "only bars at or after `start` and at or before `end` (ISO-8601 with a time zone)"


def _bars(request: Request, symbol: str, timeframe: str, start: datetime | None, end: datetime | None, limit: int) -> pd.DataFrame:
    if start is not None and end is not None and start > end:
        raise ApiError(422, f"start is after end ({iso(start)} > {iso(end)})", "bad_window", field="start")
    engine = request.app.state.engine
    frame = load_candles(engine, symbol, timeframe, start=start, end=end, last=limit)
    if frame.empty:
        stored = coverage(engine)
        if not ((stored["symbol"] == symbol) & (stored["timeframe"] == timeframe)).any():
            have = ", ".join(f"{r.symbol}:{r.timeframe}" for r in stored.itertuples()) or "none"
            raise ApiError(404, f"no stored candles for {symbol}:{timeframe}; stored: {have}")
    return frame


def _rows(frame: pd.DataFrame) -> list[dict]:
    return [{"timestamp": iso(t), "open": o, "high": h, "low": lo, "close": c, "volume": v}
            for t, o, h, lo, c, v in frame.itertuples()]


def _history(request: Request, symbol: str, timeframe: str, start, end, limit) -> dict:
    frame = _bars(request, symbol, timeframe, start, end, limit)
    return {"symbol": symbol, "timeframe": timeframe, "count": len(frame), "candles": _rows(frame)}


@router.get("/candles/{symbol}", summary="OHLCV bars, oldest first (the latest `limit` within start..end)",
            response_model=Candles, responses=WINDOWED)
def candles(request: Request, symbol: str = Path(pattern=SYMBOL, examples=["GOOGL"]), timeframe: Timeframe = "1d",
            start: Instant | None = Query(None, description=WINDOW), end: Instant | None = Query(None, description=WINDOW),
            limit: int = Query(500, ge=1, le=MAX_BARS), _: Principal | None = Depends(require("read"))) -> Response:
    return cached(request, lambda: _history(request, symbol, timeframe, start, end, limit))


@router.get("/historical/{symbol}", summary="Daily history", response_model=Candles, responses=WINDOWED)
def historical(request: Request, symbol: str = Path(pattern=SYMBOL, examples=["GOOGL"]),
               start: Instant | None = Query(None, description=WINDOW), end: Instant | None = Query(None, description=WINDOW),
               limit: int = Query(2_500, ge=1, le=MAX_BARS), _: Principal | None = Depends(require("read"))) -> Response:
    return cached(request, lambda: _history(request, symbol, "1d", start, end, limit))


@router.get("/intraday/{symbol}", summary="Intraday history (1m .. 4h)", response_model=Candles, responses=WINDOWED)
def intraday(request: Request, symbol: str = Path(pattern=SYMBOL, examples=["GOOGL"]),
             # Annotated, so that FastAPI keeps the type's own validator (its message names the intraday timeframes)
             timeframe: Annotated[Intraday, Query(description="an intraday timeframe; daily history is /api/historical/{symbol}")] = "1h",
             start: Instant | None = Query(None, description=WINDOW), end: Instant | None = Query(None, description=WINDOW),
             limit: int = Query(1_000, ge=1, le=MAX_BARS), _: Principal | None = Depends(require("read"))) -> Response:
    return cached(request, lambda: _history(request, symbol, timeframe, start, end, limit))


def snapshot(frame: pd.DataFrame, timeframe: str) -> dict:
    """Last price, change against the previous bar, volume, realized volatility (annualized)."""
    close = frame["close"].to_numpy()
    returns = np.diff(np.log(close[-21:]))
    per_year = 252 if timeframe == "1d" else 52 if timeframe == "1w" else 252 * pd.Timedelta("1D") / timeframe_delta(timeframe)
    out = {"as_of": iso(frame.index[-1]), "last_price": float(close[-1]), "volume": float(frame["volume"].iloc[-1]),
           "high": float(frame["high"].iloc[-1]), "low": float(frame["low"].iloc[-1])}
    if len(close) >= 2:
        out |= {"change": float(close[-1] - close[-2]), "change_pct": float(close[-1] / close[-2] - 1)}
    if len(returns) >= 2:
        out["volatility_annualized"] = float(returns.std(ddof=1) * np.sqrt(per_year))
    return out


@router.get("/market/{symbol}", summary="Latest snapshot: last price, change, volume, volatility", response_model=Snapshot,
            responses=STORED)
def market(request: Request, symbol: str = Path(pattern=SYMBOL, examples=["GOOGL"]), timeframe: Timeframe = "1d", _: Principal | None = Depends(require("read"))) -> Response:
    def build() -> dict:
        return plain({"symbol": symbol, "timeframe": timeframe, **snapshot(_bars(request, symbol, timeframe, None, None, 21), timeframe)})
    return cached(request, build)


@router.get("/market-data/{symbol}", summary="Snapshot plus the latest indicators", response_model=MarketData, responses=STORED)
def market_data(request: Request, symbol: str = Path(pattern=SYMBOL, examples=["GOOGL"]), timeframe: Timeframe = "1d", _: Principal | None = Depends(require("read"))) -> Response:
    def build() -> dict:
        frame = _bars(request, symbol, timeframe, None, None, 300)
        last = indicators(frame).iloc[-1]
        return plain({"symbol": symbol, "timeframe": timeframe, **snapshot(frame.tail(21), timeframe),
                      "indicators": {k: None if pd.isna(v) else round(float(v), 6) for k, v in last.items()}})
    return cached(request, build)


@router.get("/symbols", summary="The stored universe: symbols, their timeframes and data spans", response_model=Symbols)
def symbols(request: Request, _: Principal | None = Depends(require("read"))) -> Response:
    def build() -> dict:
        stored = coverage(request.app.state.engine)
        return {"symbols": [{"symbol": symbol, "timeframes": [{"timeframe": r.timeframe, "bars": int(r.bars), "first": iso(r.first),
                                                               "last": iso(r.last)} for r in rows.itertuples()]}
                            for symbol, rows in stored.groupby("symbol", sort=True)]}
    return cached(request, build)


@router.get("/data-coverage", summary="Symbol x timeframe coverage: bars, span, gaps, providers", response_model=DataCoverage)
def data_coverage(request: Request, _: Principal | None = Depends(require("read"))) -> Response:
    def build() -> dict:
        engine = request.app.state.engine
        providers = providers_by_series(engine)
        out = []
        for r in coverage(engine).itertuples():
            gaps = missing_bars(load_candles(engine, r.symbol, r.timeframe).index, r.timeframe)
            mine = providers[(providers["symbol"] == r.symbol) & (providers["timeframe"] == r.timeframe)]
            out.append({"symbol": r.symbol, "timeframe": r.timeframe, "bars": int(r.bars), "first": iso(r.first), "last": iso(r.last),
                        "gaps": int(len(gaps)), "missing_bars": int(gaps.sum()), "longest_gap_bars": int(gaps.max()) if len(gaps) else 0,
                        "providers": {p.provider: int(p.bars) for p in mine.itertuples()}})
        return {"series": out}
    return cached(request, build)
