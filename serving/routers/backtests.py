"""Backtests over HTTP: pattern (computed on the spot), strategy and walk-forward (re-run on
the out-of-sample probabilities the backtest assets stored, with the thresholds and costs
asked for), and a plain engine run of given target positions."""

from typing import Literal

import pandas as pd
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator

from features.patterns import HORIZON
from serving.auth import require
from serving.errors import ApiError
from serving.routers.ml import SYMBOL, SeriesRequest, Timeframe, candles_of
from serving.routers.outcomes import pattern_name
from store.api_keys import Principal
from store.backtests import latest_backtest
from store.types import plain
from store.candles import load_candles
from trading.backtest import BacktestInputError, run_backtest
from trading.patterns import pattern_backtest
from trading.strategy import StrategyParams, curve_points, strategy_backtest, window_figures

router = APIRouter(prefix="/api/backtest", tags=["backtesting"])

Execution = Literal["next_open", "close"]


class Costs(BaseModel):
    fee: float = Field(0.001, ge=0, lt=0.5, description="fraction of each fill's value")
    slippage: float = Field(0.0005, ge=0, lt=0.5, description="fraction of the price, against the trade")
    execution: Execution = Field("next_open", description="next_open (default, no look-ahead) or close (trade on the bar's own close)")
    points: int = Field(400, ge=2, le=5_000, description="equity points returned (evenly thinned)")


class PatternRequest(SeriesRequest, Costs):
    horizon: int = Field(HORIZON, ge=1, le=500, description="bars each detection is held")
    patterns: list[str] | None = Field(None, max_length=61, description="patterns to trade (default: all), e.g. CDLENGULFING or engulfing")


class StrategyRequest(Costs):
    symbol: str = Field(pattern=SYMBOL)
    timeframe: Timeframe = "1d"
    buy_threshold: float | None = Field(None, ge=0, le=1, description="long at or above (default: the stored run's)")
    sell_threshold: float | None = Field(None, ge=0, le=1, description="short (or flat) at or below")
    allow_short: bool | None = None
    stop_loss: float | None = Field(None, gt=0, lt=1)
    take_profit: float | None = Field(None, gt=0, le=10)
    sizing: Literal["full", "vol_target"] | None = Field(None, description="full positions, or scaled to target_vol")
    target_vol: float | None = Field(None, gt=0, le=2, description="annualized volatility the vol_target sizing aims at")
    signals: list[float | None] | None = Field(None, min_length=2, max_length=20_000, description=(
        "target positions in [-1, 1] (null: hold) for the last len(signals) stored bars: backtest these instead of the model's"))

    @model_validator(mode="after")
    def _thresholds(self) -> "StrategyRequest":
        if self.buy_threshold is not None and self.sell_threshold is not None and self.sell_threshold > self.buy_threshold:
            raise ValueError("sell_threshold must not exceed buy_threshold")
        return self


def _params(body: StrategyRequest, stored: dict) -> StrategyParams:
    """The stored run's parameters, overridden by what the request sets."""
    fields = StrategyParams.__dataclass_fields__
    known = {k: v for k, v in stored["params"].items() if k in fields}
    asked = {k: v for k, v in body.model_dump(exclude_unset=True).items() if k in fields}
    return StrategyParams(**(known | asked))


def _stored(request: Request, kind: str, body: StrategyRequest) -> tuple[dict, pd.Series, pd.DataFrame]:
    engine = request.app.state.engine
    stored = latest_backtest(engine, kind, body.symbol, body.timeframe, with_inputs=True)
    if stored is None:
        asset = "strategy_backtest" if kind == "strategy" else "walk_forward_backtest"
        raise ApiError(404, f"no {kind.replace('_', '-')} backtest stored for {body.symbol}:{body.timeframe}: materialize {asset} "
                            "(make demo, the nightly_backtests schedule and a new champion do)")
    inputs = stored.pop("inputs")
    probability = pd.Series(inputs["probability"], index=pd.DatetimeIndex(inputs["time"]), dtype="float64")
    return stored, probability, load_candles(engine, body.symbol, body.timeframe)


def _about(stored: dict) -> dict:
    return {k: stored[k] for k in ("id", "model_version", "created_at", "mlflow_run_id", "dagster_run_id")}


@router.post("/pattern", summary="Pattern backtest: per pattern count, win rate, mean return, t-statistic net of costs, and trading them all")
def pattern(request: Request, body: PatternRequest, _: Principal | None = Depends(require("read"))) -> dict:
    candles, _news = candles_of(request, body, last=None)
    names = [pattern_name(p) for p in body.patterns] if body.patterns else None
    try:
        bt = pattern_backtest(candles, body.horizon, fee=body.fee, slippage=body.slippage, execution=body.execution, patterns=names)
    except BacktestInputError as exc:
        raise ApiError(422, str(exc)) from None
    stored = latest_backtest(request.app.state.engine, "pattern", body.symbol, body.timeframe) if body.symbol else None
    return plain({"symbol": body.symbol, "timeframe": body.timeframe, "horizon": body.horizon, "bars": len(candles),
                  "execution": body.execution, "fee": body.fee, "slippage": body.slippage, "patterns": bt.table,
                  "all_detections": {"metrics": bt.result.metrics, "equity": curve_points(bt.result.equity, body.points)},
                  "stored": _about(stored) if stored else None})


@router.post("/strategy", summary="Strategy backtest on the stored out-of-sample probabilities (or given signals), against buy-and-hold and an SMA crossover")
def strategy(request: Request, body: StrategyRequest, _: Principal | None = Depends(require("read"))) -> dict:
    try:
        if body.signals is not None:
            candles = load_candles(request.app.state.engine, body.symbol, body.timeframe, last=len(body.signals))
            if len(candles) < len(body.signals):
                raise ApiError(422, f"{len(body.signals)} signals but only {len(candles)} stored bars of {body.symbol}:{body.timeframe}")
            result = run_backtest(candles, [float("nan") if s is None else s for s in body.signals], fee=body.fee, slippage=body.slippage,
                                  execution=body.execution, stop_loss=body.stop_loss, take_profit=body.take_profit)
            return plain({"symbol": body.symbol, "timeframe": body.timeframe, "source": "signals given",
                          "metrics": result.metrics, "trades": result.trades, "equity": curve_points(result.equity, body.points)})
        stored, probability, candles = _stored(request, "strategy", body)
        report = strategy_backtest(candles, probability, _params(body, stored))
    except BacktestInputError as exc:
        raise ApiError(422, str(exc)) from None
    return plain({"symbol": body.symbol, "timeframe": body.timeframe, "source": f"out-of-fold probabilities of v{stored['model_version']}",
                  "stored": _about(stored), **report.as_dict(body.points)})


@router.post("/walk-forward", summary="Walk-forward analysis: per-window figures and the stitched out-of-sample equity")
def walk_forward(request: Request, body: StrategyRequest, _: Principal | None = Depends(require("read"))) -> dict:
    if body.signals is not None:
        raise ApiError(422, "signals: a walk-forward analysis trades its own out-of-sample probabilities (use /api/backtest/strategy)")
    stored, probability, candles = _stored(request, "walk_forward", body)
    try:
        report = strategy_backtest(candles, probability, _params(body, stored))
    except BacktestInputError as exc:
        raise ApiError(422, str(exc)) from None
    spans = [(pd.Timestamp(w["start"]), pd.Timestamp(w["end"])) for w in stored["result"]["windows"]]
    windows = window_figures(report.runs["strategy"], spans)
    for now, then in zip(windows, stored["result"]["windows"], strict=True):
        now |= {"fold": then.get("fold"), "auc": then.get("auc")}
    return plain({"symbol": body.symbol, "timeframe": body.timeframe, "wf_auc": stored["metrics"].get("wf_auc"),
                  "train_bars": stored["params"].get("train_bars"), "stored": _about(stored), **report.as_dict(body.points),
                  "windows": windows})
