"""Backtests' request and answer models (serving/routers/backtests.py).

Costs and thresholds are finite JSON numbers within their bounds; given signals are target
positions in [-1, 1] (null: hold), at most MAX_SIGNALS of them. Figures a run cannot compute
(a Sharpe ratio without spread, a win rate without closed trades) are null."""

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, RootModel, StrictBool

from features.patterns import HORIZON
from serving.schemas.common import Answer, Body, Finite, Stamp, Symbol, Timeframe
from serving.schemas.patterns import Horizon, PatternName, PatternStats, examples, whole
from serving.schemas.series import SeriesRequest

MAX_SIGNALS = 20_000
Execution = Literal["next_open", "close"]


def _position(value: float) -> float:
    if not -1 <= value <= 1:
        raise ValueError(f"target positions must lie in [-1, 1], got {value}")
    return value


Position = Annotated[Finite, AfterValidator(_position), Field(json_schema_extra={"minimum": -1, "maximum": 1})]


class Costs(Body):
    fee: Finite = Field(0.001, ge=0, lt=0.5, description="fraction of each fill's value")
    slippage: Finite = Field(0.0005, ge=0, lt=0.5, description="fraction of the price, against the trade")
    execution: Execution = Field("next_open", description="next_open (default, no look-ahead) or close (trade on the bar's own close)")
    points: whole(2, 5_000) = Field(400, description="equity points returned (evenly thinned)")  # type: ignore[valid-type]


class PatternsBacktestRequest(SeriesRequest, Costs):
    model_config = examples({"symbol": "GOOGL", "horizon": 5, "patterns": ["engulfing", "CDLHAMMER"], "fee": 0.001})

    horizon: Horizon = Field(HORIZON, description="bars each detection is held")
    patterns: list[PatternName] | None = Field(None, min_length=1, max_length=61,
                                               description="patterns to trade (default: all), e.g. CDLENGULFING or engulfing")


class WalkForwardRequest(Costs):
    """Re-runs the stored walk-forward out-of-sample probabilities with these thresholds and costs
    (each unset one: the stored run's)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"symbol": "SYNA", "buy_threshold": 0.6, "sell_threshold": 0.4, "points": 100}]})

    symbol: Symbol
    timeframe: Timeframe = "1d"
    buy_threshold: Finite | None = Field(None, ge=0, le=1, description="long at or above (default: the stored run's); "
                                                                        "at least sell_threshold")
    sell_threshold: Finite | None = Field(None, ge=0, le=1, description="short (or flat) at or below; at most buy_threshold")
    allow_short: StrictBool | None = Field(None, description="short at or below sell_threshold (else flat)")
    stop_loss: Finite | None = Field(None, gt=0, lt=1, description="exit when a position has lost this fraction")
    take_profit: Finite | None = Field(None, gt=0, le=10, description="exit when a position has gained this fraction")
    sizing: Literal["full", "vol_target"] | None = Field(None, description="full positions, or scaled to target_vol")
    target_vol: Finite | None = Field(None, gt=0, le=2, description="annualized volatility the vol_target sizing aims at")


class StrategyRequest(WalkForwardRequest):
    model_config = ConfigDict(json_schema_extra={"examples": [{"symbol": "SYNA", "buy_threshold": 0.6, "sell_threshold": 0.4},
                                                              {"symbol": "SYNB", "signals": [1, None, -0.5, 0] * 10, "fee": 0.002}]})

    signals: list[Position | None] | None = Field(None, min_length=2, max_length=MAX_SIGNALS, description=(
        "target positions in [-1, 1] (null: hold) for the last len(signals) stored bars: backtest these instead of the model's"))
    policy: Literal["threshold", "rl"] = Field("threshold", description=(
        "what trades the stored out-of-sample probabilities: `threshold` (buy/sell thresholds) or `rl` (the tx-rl champion's "
        "greedy actions, from flat; in sample on the bars its final policy trained on — its out-of-sample figures are its "
        "MLflow run's walk-forward); not with `signals`"))


# -- answers -----------------------------------------------------------------------------

Point = Annotated[tuple[Stamp, float], Field(description="[time, equity]")]


class BacktestMetrics(Answer):
    total_return: float | None = None
    annual_return: float | None = None
    volatility: float | None = None
    sharpe: float | None = None
    sortino: float | None = None
    max_drawdown: float | None = None
    calmar: float | None = None
    trades: int
    closed_trades: int
    win_rate: float | None = None
    profit_factor: float | None = None
    exposure: float | None = None
    fees: float | None = None
    bars: int
    bars_per_year: float | None = None


class BacktestRun(Answer):
    metrics: BacktestMetrics
    equity: list[Point] = Field(description="(time, equity) pairs, evenly thinned to `points`")


class BacktestTrade(Answer):
    entry_time: Stamp
    exit_time: Stamp | None = Field(description="null: still open at the last bar")
    entry_bar: int
    exit_bar: int = Field(description="-1: still open")
    direction: Literal["long", "short"]
    size: float | None
    entry_price: float | None
    exit_price: float | None
    fees: float | None
    pnl: float | None
    return_: float | None = Field(alias="return")
    exit_reason: str


class StoredBacktest(Answer):
    """The stored backtest these figures re-run (written by a Dagster asset)."""

    id: int
    model_version: str | None
    created_at: Stamp | None
    mlflow_run_id: str | None
    dagster_run_id: str | None


class PatternsBacktestRow(PatternStats):
    pass


class PatternsBacktest(Answer):
    symbol: str | None = Field(description="null for candles given in the body")
    timeframe: str
    horizon: int
    bars: int
    execution: Execution
    fee: float
    slippage: float
    patterns: list[PatternsBacktestRow] = Field(description="per pattern, net of costs")
    all_detections: BacktestRun = Field(description="trading every detection (net direction) through the engine")
    stored: StoredBacktest | None = Field(description="the latest stored pattern backtest of the series, if any")


class SignalsBacktest(Answer):
    """A run of given signals (`source`: "signals given")."""

    symbol: str
    timeframe: str
    source: Literal["signals given"]
    metrics: BacktestMetrics
    trades: list[BacktestTrade]
    equity: list[Point]


class StrategyParameters(Answer):
    buy_threshold: float
    sell_threshold: float
    allow_short: bool
    fee: float
    slippage: float
    execution: Execution
    stop_loss: float | None = None
    take_profit: float | None = None
    sma_fast: int
    sma_slow: int
    sizing: Literal["full", "vol_target"]
    target_vol: float


class StrategyRuns(Answer):
    """The thresholded strategy and its baselines over the bars with a stored out-of-sample probability."""

    symbol: str
    timeframe: str
    stored: StoredBacktest
    params: StrategyParameters = Field(description="the parameters the run used: the stored run's, overridden by the request's")
    span: list[Stamp] = Field(min_length=2, max_length=2, description="first and last bar traded")
    predictions: int = Field(description="bars with an out-of-sample probability")
    excess_return: dict[str, float | None] = Field(description="the strategy's total return minus each baseline's")
    runs: dict[str, BacktestRun] = Field(description="strategy, buy_and_hold, sma_crossover (a baseline without a signal is left out)")


class StrategyReport(StrategyRuns):
    source: str = Field(description="whose probabilities were traded, e.g. out-of-fold probabilities of v3")


class WalkForwardWindow(Answer):
    start: Stamp
    end: Stamp
    bars: int
    total_return: float | None
    max_drawdown: float | None
    trades: int
    win_rate: float | None
    fold: int | None = None
    auc: float | None = None


class WalkForward(StrategyRuns):
    """The stored walk-forward's stitched out-of-sample probabilities re-run, with figures per window."""

    wf_auc: float | None
    train_bars: int | None
    windows: list[WalkForwardWindow]


class StrategyAnswer(RootModel[SignalsBacktest | StrategyReport]):
    """Given signals' run, or the strategy re-run on the stored out-of-sample probabilities."""
