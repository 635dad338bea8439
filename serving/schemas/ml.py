"""Requests and answers of the model routes: scoring and its layer views (serving/routers/ml.py),
training runs and the online line (ml_ops.py) and the market scan (scan.py)."""

from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from serving.schemas.common import Answer, Body, Finite, Symbol, Timeframe
from serving.schemas.series import SeriesRequest

Direction = Literal["up", "down", "neutral"]


# --- requests ---------------------------------------------------------------------------------

class BatchRequest(Body):
    items: list[SeriesRequest] = Field(min_length=1, max_length=100, description="each scored on its own; a bad one fails alone")


class PromoteRequest(Body):
    version: str = Field(pattern=r"^[0-9]{1,9}$", description="a registered version of tx-fused", examples=["2"])
    force: StrictBool = Field(False, description="promote even if the gate says no (recorded with who forced it)")


class TrainRequest(Body):
    note: str | None = Field(None, max_length=200, description="recorded as a run tag")


class PositionState(Body):
    side: Literal["long", "short", "flat"] = "flat"
    quantity: Finite = Field(0.0, ge=0, le=1e12, description="units held (0 when flat; more than 0 when long or short)")
    entry_price: Finite | None = Field(None, gt=0, le=1e12, description="average entry price (unrealized return 0 when absent)")
    bars_held: int = Field(0, ge=0, le=100_000, description="bars since the position was opened")


class RlRequest(Body):
    """The series (its stored candles) and, optionally, the position held; without it the
    paper account's position in the symbol is used."""

    model_config = {**Body.model_config, "json_schema_extra": {
        "examples": [{"symbol": "GOOGL", "timeframe": "1d", "position": {"side": "long", "quantity": 10, "entry_price": 1200.5,
                                                                          "bars_held": 3}}]}}

    symbol: Symbol
    timeframe: Timeframe = "1d"
    position: PositionState | None = None


# --- answers ----------------------------------------------------------------------------------

class LayerScore(BaseModel):
    probability: float = Field(description="the layer's own P(take-profit first)")
    contribution: float = Field(description="its push on the fused log-odds")


class PatternHit(BaseModel):
    pattern: str
    direction: Literal["bullish", "bearish"]
    strength: int
    confidence: float | None = Field(description="the pattern's hit rate so far at this bar (null: too few outcomes)")


class Score(Answer):
    """The fused model's answer for the last bar of a series."""

    symbol: str | None = Field(description="null when candles were given")
    probability: float = Field(ge=0, le=1, description="P(take-profit is hit before the stop)")
    direction: Direction
    confidence: float = Field(ge=0.5, le=1, description="max(p, 1 - p)")
    model_version: str
    timeframe: str
    as_of: str = Field(description="the scored bar, ISO-8601 UTC")
    layers: dict[str, LayerScore]
    base: float = Field(description="the stacker's base log-odds")
    patterns: list[PatternHit] = Field(description="patterns at the bar, strongest first")
    explanation: str
    bars_used: int
    warning: str | None = Field(None, description="present when fewer bars than the batch features use were scored")


class HeldPosition(BaseModel):
    side: Literal["long", "short", "flat"]
    unrealized_return: float = Field(description="since entry, at the last close, signed by the side")
    bars_held: int
    source: Literal["request", "paper"] = Field(description="given in the body, or the paper account's")


class RlAction(Answer):
    """The RL agent's decision on the last stored bar: what to hold from the next bar's open."""

    symbol: str
    timeframe: str
    action: Literal["flat", "long", "short"]
    target_position: float = Field(ge=-1, le=1, description="fraction of equity: -1 short, 0 flat, +1 long")
    probabilities: dict[str, float] = Field(description="the policy's probability of each action")
    value: float = Field(description="the policy's value estimate (expected discounted log-equity change)")
    fused_probability: float = Field(ge=0, le=1, description="the fused model's probability at the bar, as the agent saw it")
    position: HeldPosition
    as_of: str = Field(description="the bar decided on, ISO-8601 UTC")
    rl_version: str
    fused_version: str
    explanation: str


class ScoreFailure(BaseModel):
    code: str
    message: str


class FailedItem(BaseModel):
    """A batch item that could not be scored (the others still are)."""

    symbol: str | None
    error: ScoreFailure


class BatchScores(Answer):
    model_version: str
    results: list[Score | FailedItem] = Field(description="in the order of the items: a score or why not")


class OnlineScore(Score):
    line: Literal["online"]


class DeepLayer(Answer):
    symbol: str | None
    probability: float
    nets: dict[str, float] = Field(description="each net's probability (cnn, lstm)")
    window_bars: int
    model_version: str
    as_of: str


class FeatureEffect(BaseModel):
    feature: str
    value: float | None
    effect: float = Field(description="how far the layer's probability moves with this feature missing")


class MultiTimeframeLayer(Answer):
    symbol: str | None
    probability: float
    features: list[FeatureEffect]
    model_version: str
    as_of: str


class FeatureContributions(Answer):
    symbol: str
    timeframe: str
    model_version: str
    probability: float
    base: float
    layers: dict[str, LayerScore]
    multitimeframe_features: list[FeatureEffect]


class AttributedLayer(LayerScore):
    stacker_weight: float
    walk_forward_auc: float | None


class LayerAttribution(Answer):
    symbol: str
    timeframe: str
    model_version: str
    probability: float
    layers: dict[str, AttributedLayer]


class ModelVersion(BaseModel):
    name: str
    version: str
    aliases: list[str]
    run_id: str | None
    gate: dict[str, str] = Field(description="the promotion gate's recorded decision (tags tx.gate.*)")


class Models(Answer):
    models: list[ModelVersion]


class ModelInfo(Answer):
    name: str
    version: str
    run_id: str | None
    loaded_at: str
    layers: list[str]
    metrics: dict[str, float | None]
    lineage: dict[str, str]
    label_config: dict[str, str | float | int | bool | None]
    knowledge_cutoff: str | None


class ActiveVersion(Answer):
    name: str
    version: str
    wf_auc: float | None
    loaded_at: str


class Promotion(Answer):
    name: str
    version: str
    promoted: bool
    reason: str
    forced: bool
    decided_at: str


class Launched(Answer):
    job: str
    run_id: str
    status: Literal["submitted"]
    dagster_url: str
    what: str | None = Field(None, description="what the launched job does (online-update)")


class OnlineStatus(Answer):
    name: str
    version: str
    loaded_at: str
    base_version: str | None
    samples_seen: int
    trained_through: dict[str, str | None]
    knowledge_cutoff: str | None
    prequential_auc: float | None
    by_series: dict[str, int]
    metrics: dict[str, float | None]
    last_sample_at: str | None = Field(None, description="present once the line has learned from a sample")


class Figures(BaseModel):
    matured: int
    auc: float | None
    hit_rate: float | None
    directional_calls: int
    brier: float | None
    mean_probability: float | None
    observed_rate: float | None


class CalibrationBin(BaseModel):
    bin: str
    count: int
    mean_probability: float | None
    observed_rate: float | None


class PeriodFigures(Figures):
    period: str


class LivePerformance(Answer, Figures):
    name: str
    served_version: str
    label_config: dict[str, str | float | int | bool | None]
    period: Literal["D", "W", "M", "Q"]
    judged_by: str
    predictions: int
    pending: int
    calibration: list[CalibrationBin]
    over_time: list[PeriodFigures]
    by_version: dict[str, Figures]


class ScanRow(BaseModel):
    symbol: str
    timeframe: str
    as_of: str
    probability: float
    direction: Direction
    confidence: float
    top_patterns: list[PatternHit]


class ScanSkip(BaseModel):
    symbol: str
    timeframe: str
    reason: str


class MarketScan(Answer):
    model_version: str
    count: int
    results: list[ScanRow] = Field(description="most confident first")
    skipped: list[ScanSkip]
