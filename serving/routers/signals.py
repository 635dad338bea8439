"""Signals, risk and sizing over HTTP (thin over `trading/`)."""

from typing import Literal

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, model_validator

from training import scoring
from serving.auth import require
from serving.champion import Served
from serving.errors import ApiError
from serving.routers.ml import SYMBOL, SeriesRequest, Timeframe, candles_of, served
from store.api_keys import Principal
from store.candles import load_candles
from trading import risk, sizing
from trading.signals import entry_signal, exit_signal

router = APIRouter(prefix="/api", tags=["signals"])


def _scored(request: Request, model: Served, symbol: str, timeframe: str) -> tuple[dict, pd.DataFrame]:
    candles, news = candles_of(request, SeriesRequest(symbol=symbol, timeframe=timeframe))
    return scoring.score(model, candles, timeframe, news), candles


@router.get("/entry-signals/{symbol}", summary="Entry signal with the stop and target the model was trained on")
def entry(request: Request, symbol: str = Path(pattern=SYMBOL), timeframe: Timeframe = "1d",
          min_confidence: float = Query(0.6, gt=0.5, lt=1), model: Served = Depends(served),
          _: Principal | None = Depends(require("read"))) -> dict:
    scored, candles = _scored(request, model, symbol, timeframe)
    try:
        signal = entry_signal(scored["probability"], candles, model.model.label_config, min_confidence)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    return {"symbol": symbol, "timeframe": timeframe, "model_version": model.version, "as_of": scored["as_of"], **signal}


@router.get("/exit-signals/{symbol}", summary="Exit or hold for an open position")
def exit_(request: Request, symbol: str = Path(pattern=SYMBOL), side: Literal["long", "short"] = "long",
          entry_price: float = Query(gt=0), timeframe: Timeframe = "1d", model: Served = Depends(served),
          _: Principal | None = Depends(require("read"))) -> dict:
    scored, candles = _scored(request, model, symbol, timeframe)
    try:
        signal = exit_signal(scored["probability"], candles, model.model.label_config, side, entry_price)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    return {"symbol": symbol, "timeframe": timeframe, "side": side, "entry_price": entry_price, "model_version": model.version,
            "as_of": scored["as_of"], **signal}


class Holding(BaseModel):
    symbol: str = Field(pattern=SYMBOL)
    quantity: float = Field(description="units; negative for a short")


class RiskRequest(BaseModel):
    positions: list[Holding] = Field(min_length=1, max_length=200)
    timeframe: Timeframe = "1d"
    confidence: float = Field(0.95, gt=0.5, lt=1)
    lookback: int = Field(500, ge=20, le=10_000, description="bars of history")


@router.post("/risk-assessment", summary="Volatility, max drawdown, historical VaR/CVaR of a position or portfolio")
def risk_assessment(request: Request, body: RiskRequest, _: Principal | None = Depends(require("read"))) -> dict:
    closes = {}
    for h in body.positions:
        frame = load_candles(request.app.state.engine, h.symbol, body.timeframe, last=body.lookback)
        if frame.empty:
            raise ApiError(404, f"no stored candles for {h.symbol}:{body.timeframe}")
        closes[h.symbol] = frame["close"]
    aligned = pd.DataFrame(closes).dropna()
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
        raise ApiError(422, str(exc)) from None
    return {"basis": basis, "from": aligned.index[0].isoformat(), "to": aligned.index[-1].isoformat(), **figures}


class SizingRequest(BaseModel):
    method: Literal["fixed_fraction", "volatility_target", "kelly"]
    equity: float = Field(gt=0)
    price: float = Field(gt=0)
    stop_price: float | None = Field(None, gt=0, description="fixed_fraction")
    risk_fraction: float = Field(0.01, gt=0, le=0.2, description="fixed_fraction")
    volatility: float | None = Field(None, gt=0, description="annualized; volatility_target")
    target_vol: float = Field(0.15, gt=0, le=2, description="volatility_target")
    win_probability: float | None = Field(None, gt=0, lt=1, description="kelly")
    payoff_ratio: float | None = Field(None, gt=0, description="kelly")
    kelly_fraction: float = Field(0.5, gt=0, le=1)
    cap: float = Field(0.25, gt=0, le=1)

    @model_validator(mode="after")
    def _inputs(self) -> "SizingRequest":
        need = {"fixed_fraction": ["stop_price"], "volatility_target": ["volatility"], "kelly": ["win_probability", "payoff_ratio"]}
        missing = [f for f in need[self.method] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"method {self.method} needs {', '.join(missing)}")
        return self


@router.post("/position-sizing", summary="Size by fixed fraction, volatility target or capped Kelly")
def position_sizing(body: SizingRequest, _: Principal | None = Depends(require("read"))) -> dict:
    try:
        if body.method == "fixed_fraction":
            size = sizing.fixed_fraction(body.equity, body.price, body.stop_price, body.risk_fraction)
        elif body.method == "volatility_target":
            size = sizing.volatility_target(body.equity, body.price, body.volatility, body.target_vol)
        else:
            size = sizing.capped_kelly(body.equity, body.price, body.win_probability, body.payoff_ratio, body.kelly_fraction, body.cap)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    return {"method": size.method, "quantity": size.quantity, "notional": size.notional, "fraction": size.fraction, "detail": size.detail}
