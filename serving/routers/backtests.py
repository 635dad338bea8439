"""Backtests over HTTP: pattern (computed on the spot), strategy and walk-forward (re-run on
the out-of-sample probabilities the backtest assets stored, with the thresholds and costs
asked for), and a plain engine run of given target positions. Request and answer models:
serving/schemas/backtests.py.

What JSON Schema cannot say is refused with its own code: thresholds that cross (also against
the stored run's), a horizon or signals longer than the series (`short_series`), and what the
engine refuses (`backtest_rejected`, e.g. signals that are all null)."""

import pandas as pd
from fastapi import APIRouter, Depends, Request

from serving.auth import require
from serving.deps import candles_of, model_of
from serving.errors import ApiError
from serving.schemas.backtests import (PatternsBacktest, PatternsBacktestRequest, StrategyAnswer, StrategyRequest, WalkForward,
                                       WalkForwardRequest)
from serving.schemas.common import AUTH, described, errors
from store.api_keys import Principal
from store.backtests import latest_backtest
from store.candles import load_candles
from store.types import plain
from trading.backtest import BacktestInputError, run_backtest
from trading.patterns import pattern_backtest
from trading.strategy import StrategyParams, curve_points, strategy_backtest, window_figures

router = APIRouter(prefix="/api/backtest", tags=["backtests"], responses=errors(*AUTH))
INVALID = "Invalid input (`invalid_request`): the message names the field and why"
REJECTED = "what the engine refuses (`backtest_rejected`: signals all null, thresholds that cross the stored run's)"


def _rejected(exc: BacktestInputError, field: str | None = None) -> ApiError:
    return ApiError(422, str(exc), "backtest_rejected", field=field)


def _params(body: WalkForwardRequest, stored: dict) -> StrategyParams:
    """The stored run's parameters, overridden by what the request sets (a `null` keeps the
    stored value, as an absent field does)."""
    fields = StrategyParams.__dataclass_fields__
    known = {k: v for k, v in stored["params"].items() if k in fields}
    asked = {k: v for k, v in body.model_dump(exclude_unset=True, exclude_none=True).items() if k in fields}
    try:
        return StrategyParams(**(known | asked))
    except BacktestInputError as exc:  # e.g. a buy threshold under the stored sell threshold
        raise _rejected(exc) from None


def _thresholds(body: WalkForwardRequest) -> None:
    if body.buy_threshold is not None and body.sell_threshold is not None and body.sell_threshold > body.buy_threshold:
        raise ApiError(422, f"sell_threshold {body.sell_threshold} must not exceed buy_threshold {body.buy_threshold}", "bad_thresholds",
                       field="sell_threshold")


def _stored(request: Request, kind: str, body: WalkForwardRequest) -> tuple[dict, pd.Series, pd.DataFrame]:
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


@router.post("/pattern", summary="Pattern backtest: per pattern count, win rate, mean return, t-statistic net of costs, and trading them all",
             response_model=PatternsBacktest,
             responses=described({404: "No stored candles for that symbol and timeframe",
                                  409: "Too few stored bars for the computation (`too_few_bars`)",
                                  422: f"{INVALID}; candles given out of order or inconsistent (`bad_candles`); a horizon that "
                                       f"leaves no outcome (`short_series`); {REJECTED}"}))
def pattern(request: Request, body: PatternsBacktestRequest, _: Principal | None = Depends(require("read"))) -> dict:
    candles, _news = candles_of(request, body, last=None)
    names = list(dict.fromkeys(body.patterns)) if body.patterns else None  # canonical names, each once
    if body.horizon >= len(candles) - 1:
        raise ApiError(422, f"horizon {body.horizon} leaves no outcome in {len(candles)} bars: use a shorter horizon or more data",
                       "short_series", field="horizon")
    try:
        bt = pattern_backtest(candles, body.horizon, fee=body.fee, slippage=body.slippage, execution=body.execution, patterns=names)
    except BacktestInputError as exc:
        raise _rejected(exc) from None
    stored = latest_backtest(request.app.state.engine, "pattern", body.symbol, body.timeframe) if body.symbol else None
    return plain({"symbol": body.symbol, "timeframe": body.timeframe, "horizon": body.horizon, "bars": len(candles),
                  "execution": body.execution, "fee": body.fee, "slippage": body.slippage, "patterns": bt.table,
                  "all_detections": {"metrics": bt.result.metrics, "equity": curve_points(bt.result.equity, body.points)},
                  "stored": _about(stored) if stored else None})


@router.post("/strategy", summary="Strategy backtest on the stored out-of-sample probabilities (or given signals), against buy-and-hold and an SMA crossover",
             response_model=StrategyAnswer,
             responses=described({404: "No strategy backtest stored for the series (materialize strategy_backtest) or, for given "
                                       "signals, no stored candles",
                                  422: f"{INVALID}; sell_threshold above buy_threshold (`bad_thresholds`); more signals than "
                                       f"stored bars (`short_series`); `signals` with policy `rl` (`bad_policy`); {REJECTED}",
                                  503: "policy `rl` while no tx-rl champion is served (`no_model`; Retry-After)"}))
def strategy(request: Request, body: StrategyRequest, _: Principal | None = Depends(require("read"))) -> dict:
    _thresholds(body)
    if body.policy == "rl":
        if body.signals is not None:
            raise ApiError(422, "give either `signals` or policy `rl`, not both", "bad_policy", field="policy")
        return _rl_strategy(request, body)
    if body.signals is not None:
        candles = load_candles(request.app.state.engine, body.symbol, body.timeframe, last=len(body.signals))
        if candles.empty:
            raise ApiError(404, f"no stored candles for {body.symbol}:{body.timeframe}: nothing to trade the signals on")
        if len(candles) < len(body.signals):
            raise ApiError(422, f"{len(body.signals)} signals but only {len(candles)} stored bars of {body.symbol}:{body.timeframe}",
                           "short_series", field="signals")
        try:
            result = run_backtest(candles, [float("nan") if s is None else s for s in body.signals], fee=body.fee, slippage=body.slippage,
                                  execution=body.execution, stop_loss=body.stop_loss, take_profit=body.take_profit)
        except BacktestInputError as exc:
            raise _rejected(exc, "signals") from None
        return plain({"symbol": body.symbol, "timeframe": body.timeframe, "source": "signals given",
                      "metrics": result.metrics, "trades": result.trades, "equity": curve_points(result.equity, body.points)})
    stored, probability, candles = _stored(request, "strategy", body)
    try:
        report = strategy_backtest(candles, probability, _params(body, stored))
    except BacktestInputError as exc:
        raise _rejected(exc) from None
    return plain({"symbol": body.symbol, "timeframe": body.timeframe, "source": f"out-of-fold probabilities of v{stored['model_version']}",
                  "stored": _about(stored), **report.as_dict(body.points)})


def _rl_strategy(request: Request, body: StrategyRequest) -> dict:
    """The tx-rl champion trading the stored out-of-fold probabilities, beside the baselines."""
    from trading.rl import policy_signals
    from training.inputs import model_inputs

    agent = model_of(request, "rl")
    stored, probability, candles = _stored(request, "strategy", body)
    X, _ = model_inputs(candles, body.timeframe)
    candles = candles.iloc[-len(X):]
    signals = policy_signals(agent.model, body.symbol, body.timeframe, candles, X, probability)
    try:
        report = strategy_backtest(candles, probability, _params(body, stored), signals)
    except BacktestInputError as exc:
        raise _rejected(exc) from None
    trained = agent.model.trained_on
    span = f"{trained['start'][:10]}..{trained['end'][:10]}" if trained.get("start") and trained.get("end") else "its training bars"
    return plain({"symbol": body.symbol, "timeframe": body.timeframe,
                  "source": f"tx-rl v{agent.version} acting on the out-of-fold probabilities of v{stored['model_version']} (in sample "
                            f"for the policy over {span}; its out-of-sample figures: the walk-forward in its MLflow run)",
                  "stored": _about(stored), **report.as_dict(body.points)})


@router.post("/walk-forward", summary="Walk-forward analysis: per-window figures and the stitched out-of-sample equity",
             response_model=WalkForward,
             responses=described({404: "No walk-forward backtest stored for the series (materialize walk_forward_backtest)",
                                  422: f"{INVALID}; sell_threshold above buy_threshold (`bad_thresholds`); {REJECTED}"}))
def walk_forward(request: Request, body: WalkForwardRequest, _: Principal | None = Depends(require("read"))) -> dict:
    _thresholds(body)
    stored, probability, candles = _stored(request, "walk_forward", body)
    try:
        report = strategy_backtest(candles, probability, _params(body, stored))
    except BacktestInputError as exc:
        raise _rejected(exc) from None
    spans = [(pd.Timestamp(w["start"]), pd.Timestamp(w["end"])) for w in stored["result"]["windows"]]
    windows = window_figures(report.runs["strategy"], spans)
    for now, then in zip(windows, stored["result"]["windows"], strict=True):
        now |= {"fold": then.get("fold"), "auc": then.get("auc")}
    return plain({"symbol": body.symbol, "timeframe": body.timeframe, "wf_auc": stored["metrics"].get("wf_auc"),
                  "train_bars": stored["params"].get("train_bars"), "stored": _about(stored), **report.as_dict(body.points),
                  "windows": windows})
