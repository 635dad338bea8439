"""Signals, risk and sizing over HTTP (thin over `trading/`)."""

import math
from typing import Literal

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request

from serving.auth import require
from serving.champion import Served
from serving.deps import candles_of, model_of
from serving.errors import ApiError
from serving.schemas.common import AUTH, SYMBOL, Timeframe, errors
from serving.schemas.series import SeriesRequest
from serving.schemas.signals import EntrySignal, ExitSignal, PositionSize, RiskFigures, RiskRequest, SizingRequest
from store.api_keys import Principal
from store.candles import load_candles
from store.types import iso
from trading import risk, sizing
from trading.signals import entry_signal, exit_signal
from training import scoring

router = APIRouter(prefix="/api", tags=["signals"], responses=errors(*AUTH))
SYMBOL_PATH = Path(pattern=SYMBOL, description="a stored symbol", examples=["GOOGL"])


def _scored(request: Request, model: Served, symbol: str, timeframe: str) -> tuple[scoring.Score, pd.DataFrame]:
    candles, news = candles_of(request, SeriesRequest(symbol=symbol, timeframe=timeframe))
    return scoring.score(model, candles, timeframe, news), candles


def _levels_refused(exc: Exception) -> ApiError:
    """Levels the stored bars cannot give (too few bars for ATR, a flat series): a conflict with what is stored."""
    reason = str(exc) if isinstance(exc, ValueError) else "the stored series has no range (ATR is 0): no stop or target to set"
    return ApiError(409, reason, "no_levels")


@router.get("/entry-signals/{symbol}", summary="Entry signal with the stop and target the model was trained on",
            response_model=EntrySignal, response_model_exclude_unset=True, responses=errors(404, 409))
def entry(request: Request, symbol: str = SYMBOL_PATH, timeframe: Timeframe = "1d",
          min_confidence: float = Query(0.6, gt=0.5, lt=1, allow_inf_nan=False), _: Principal | None = Depends(require("read"))) -> dict:
    model = model_of(request)
    view, candles = _scored(request, model, symbol, timeframe)
    try:
        signal = entry_signal(view.probability, candles, model.model.label_config, min_confidence)
    except (ValueError, ZeroDivisionError) as exc:
        raise _levels_refused(exc) from None
    return {"symbol": symbol, "timeframe": timeframe, "model_version": model.version, "as_of": iso(view.as_of), **signal}


@router.get("/exit-signals/{symbol}", summary="Exit or hold for an open position", response_model=ExitSignal, responses=errors(404, 409))
def exit_(request: Request, symbol: str = SYMBOL_PATH, side: Literal["long", "short"] = "long",
          entry_price: float = Query(ge=1e-12, le=1e12, allow_inf_nan=False, description="the position's entry price"),
          timeframe: Timeframe = "1d", _: Principal | None = Depends(require("read"))) -> dict:
    model = model_of(request)
    view, candles = _scored(request, model, symbol, timeframe)
    try:
        signal = exit_signal(view.probability, candles, model.model.label_config, side, entry_price)
    except (ValueError, ZeroDivisionError) as exc:
        raise _levels_refused(exc) from None
    return {"symbol": symbol, "timeframe": timeframe, "side": side, "entry_price": entry_price, "model_version": model.version,
            "as_of": iso(view.as_of), **signal}


@router.post("/risk-assessment", summary="Volatility, max drawdown, historical VaR/CVaR of a position or portfolio",
             response_model=RiskFigures, responses=errors(404, 409, 413))
def risk_assessment(request: Request, body: RiskRequest, _: Principal | None = Depends(require("read"))) -> dict:
    closes = {}
    for h in body.positions:
        frame = load_candles(request.app.state.engine, h.symbol, body.timeframe, last=body.lookback)
        if frame.empty:
            raise ApiError(404, f"no stored candles for {h.symbol}:{body.timeframe}", field="positions")
        closes[h.symbol] = frame["close"]
    aligned = pd.DataFrame(closes).dropna()
    if len(aligned) < 3:
        raise ApiError(409, f"the positions share {len(aligned)} stored bars of {body.timeframe} history in the last {body.lookback}; "
                            "risk needs 3+", "too_few_bars", field="positions")
    quantities = pd.Series({h.symbol: 0.0 for h in body.positions})
    for h in body.positions:
        quantities[h.symbol] += h.quantity
    values = (aligned * quantities[aligned.columns]).sum(axis=1)
    gross = (aligned.abs() * quantities[aligned.columns].abs()).sum(axis=1)
    if (values <= 0).any():  # a net short or hedged book: measure on gross exposure, say so
        basis, series = "gross exposure", gross
    else:
        basis, series = "net value", values
    try:
        figures = risk.assess(series, body.timeframe, body.confidence)
    except ValueError as exc:
        figures = {"error": str(exc)}
    if "error" in figures or not all(math.isfinite(v) for v in figures.values()):
        # a flat or fully hedged book: no figures rather than made-up ones
        raise ApiError(422, f"nothing at risk to measure: the book's {basis} is not positive on every bar "
                            f"({figures.get('error', 'no finite figures')})", "nothing_at_risk", field="positions")
    return {"basis": basis, "from": aligned.index[0].isoformat(), "to": aligned.index[-1].isoformat(), **figures}


@router.post("/position-sizing", summary="Size by fixed fraction, volatility target or capped Kelly", response_model=PositionSize,
             responses=errors(413))
def position_sizing(body: SizingRequest, _: Principal | None = Depends(require("read"))) -> dict:
    try:
        if body.method == "fixed_fraction":
            size = sizing.fixed_fraction(body.equity, body.price, body.stop_price, body.risk_fraction)
        elif body.method == "volatility_target":
            size = sizing.volatility_target(body.equity, body.price, body.volatility, body.target_vol)
        else:
            size = sizing.capped_kelly(body.equity, body.price, body.win_probability, body.payoff_ratio, body.kelly_fraction, body.cap)
    except ValueError as exc:  # a stop at the price: no risk per unit to size by
        raise ApiError(422, str(exc), "bad_stop", field="stop_price") from None
    return {"method": size.method, "quantity": size.quantity, "notional": size.notional, "fraction": size.fraction, "detail": size.detail}
