"""Candlestick patterns' request and answer models (serving/routers/patterns.py).

A pattern is named by its TA-Lib name (CDLENGULFING) or its key (engulfing): the schema
lists both forms; case, surrounding blanks and underscores are forgiven (morning_star)."""

from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, StrictStr, WithJsonSchema

from features.patterns import HORIZON, PATTERNS, pattern_key
from serving.schemas.common import Answer, Instant, Stamp, whole
from serving.schemas.series import ONE_SOURCE, SeriesRequest

KEYS = tuple(pattern_key(name) for name in PATTERNS)
MAX_HORIZON = 500


def canonical(text: str) -> str:
    """CDLENGULFING, cdlengulfing, engulfing or Morning_Star -> the TA-Lib name."""
    name = text.strip().upper()
    name = name if name.startswith("CDL") else "CDL" + name.replace("_", "")
    if name not in PATTERNS:
        raise ValueError(f"unknown pattern {text!r}: /api/patterns/list has the {len(PATTERNS)} supported")
    return name


PatternName = Annotated[StrictStr, AfterValidator(canonical), WithJsonSchema({
    "type": "string", "enum": [*PATTERNS, *KEYS],
    "description": "a TA-Lib pattern (CDLENGULFING) or its key (engulfing); /api/patterns/list has them all"})]
Horizon = Annotated[whole(1, MAX_HORIZON), Field(description="bars after a detection that decide its outcome")]
Direction = Literal["bullish", "bearish"]


# -- the catalogue and detections -------------------------------------------------------


class PatternInfo(Answer):
    pattern: str = Field(description="the TA-Lib name, e.g. CDLENGULFING")
    key: str = Field(description="the short key, e.g. engulfing")
    name: str = Field(description="TA-Lib's display name")
    direction_on_bundled_data: Literal["both", "bullish", "bearish", "not seen"]


class PatternList(Answer):
    patterns: list[PatternInfo]


def examples(*bodies: dict) -> ConfigDict:
    """A series request's config with these example bodies (and the one-source rule kept)."""
    return ConfigDict(json_schema_extra={**ONE_SOURCE, "examples": list(bodies)})


class DetectRequest(SeriesRequest):
    model_config = examples({"symbol": "GOOGL", "timeframe": "1d", "last_bars": 50})

    last_bars: whole(1, 5_000) = Field(50, description="report detections in the last n bars")  # type: ignore[valid-type]


class PatternDetection(Answer):
    timestamp: Stamp = Field(description="the bar the pattern completed on")
    pattern: str
    direction: Direction
    strength: float = Field(description="TA-Lib's |value| / 100: 1 plain, 2 confirmed")
    confidence: float | None = Field(description="point-in-time probability that price moves in its direction within the horizon")


class PatternDetections(Answer):
    symbol: str | None = Field(description="null for candles given in the body")
    timeframe: str
    bars: int = Field(description="candles examined")
    detections: list[PatternDetection]


class EnhancedDetection(PatternDetection):
    model_probability_up: float
    model_agrees: bool
    enhanced_confidence: float


class EnhancedDetections(Answer):
    symbol: str | None
    timeframe: str
    model_version: str
    bars: int
    enhanced_confidence: str = Field(description="what `enhanced_confidence` of a detection means")
    detections: list[EnhancedDetection]


class StoredDetections(Answer):
    symbol: str
    timeframe: str
    detections: list[PatternDetection] = Field(description="oldest first; empty when nothing is stored for the series")


class PatternHeatmapCell(Answer):
    symbol: str
    timeframe: str
    pattern: str
    count: int


class PatternHeatmap(Answer):
    days: int
    cells: list[PatternHeatmapCell]


# -- outcomes, confidences, performance -------------------------------------------------


class PatternPerformanceRow(Answer):
    pattern: str
    timeframe: str | None = None
    count: int = Field(description="detections")
    matured: int = Field(description="detections whose horizon has passed")
    win_rate: float | None = None
    mean_return: float | None = None
    median_return: float | None = None
    t_stat: float | None = Field(None, description="t-statistic of the mean return (null under 2 matured or no spread)")


class PatternPerformance(Answer):
    horizon: int
    series: list[str] = Field(description="symbol:timeframe of each series counted")
    patterns: list[PatternPerformanceRow]


class PatternSummaryRow(Answer):
    pattern: str
    count: int
    hits: int
    mean_return: float | None = None
    win_rate: float | None = None


class PatternPerformanceSummary(Answer):
    outcomes: int = Field(description="pattern outcomes logged")
    patterns: list[PatternSummaryRow]
    note: str | None = None


class PatternHistoryRow(Answer):
    timestamp: Stamp
    pattern: str
    direction: Direction
    strength: float
    return_: float | None = Field(alias="return", description="signed return after `horizon` bars; null while pending")
    outcome: Literal["hit", "miss", "pending"]


class PatternHistory(Answer):
    symbol: str
    timeframe: str
    horizon: int
    detections: list[PatternHistoryRow]


class PatternConfidence(Answer):
    pattern: str
    matured: int
    hits: int
    own_hit_rate: float | None
    prior: float
    confidence: float


class PatternConfidences(Answer):
    symbol: str
    timeframe: str
    as_of: Stamp = Field(description="the last stored bar")
    horizon: int
    prior: str = Field(description="where the prior comes from")
    prior_strength: float = Field(description="the prior's weight, in detections")
    patterns: list[PatternConfidence]


# -- validate, explain, backtest --------------------------------------------------------


class ExplainRequest(SeriesRequest):
    model_config = examples({"symbol": "GOOGL", "pattern": "engulfing", "horizon": 5})

    pattern: PatternName
    timestamp: Instant | None = Field(None, description="the bar of the detection (default: the latest detection)")
    horizon: Horizon = HORIZON


class ValidateRequest(ExplainRequest):
    model_config = examples({"symbol": "GOOGL", "pattern": "CDLENGULFING", "timestamp": "2018-08-29T00:00:00Z"})

    timestamp: Instant = Field(description="the bar the pattern is claimed at")  # type: ignore[assignment]


class NearbyDetection(Answer):
    timestamp: Stamp
    direction: Direction


class PatternValidation(Answer):
    pattern: str
    timestamp: Stamp
    valid: bool = Field(description="TA-Lib finds the pattern at that bar")
    direction: Direction | None
    strength: float
    nearby: list[NearbyDetection] = Field(description="the same pattern within 5 bars either side")


class PatternExplanation(Answer):
    pattern: str
    name: str
    timestamp: Stamp
    direction: Direction
    strength: float
    earlier_matured: int
    earlier_hits: int
    prior: float
    confidence: float
    outcome_return: float | None
    explanation: str


class PatternBacktestRequest(SeriesRequest):
    model_config = examples({"symbol": "GOOGL", "pattern": "hammer", "horizon": 10})

    pattern: PatternName
    horizon: Horizon = HORIZON


class PatternTrade(Answer):
    timestamp: Stamp
    direction: Literal["long", "short"]
    strength: float
    return_: float | None = Field(alias="return")


class PatternStats(Answer):
    """One pattern's track record: detections, matured ones, win rate, returns, t-statistic."""

    pattern: str
    count: int
    matured: int
    win_rate: float | None = None
    mean_return: float | None = None
    median_return: float | None = None
    t_stat: float | None = None


class PatternBacktest(PatternStats):
    symbol: str | None
    timeframe: str
    horizon: int
    bars: int
    compounded_return: float
    trades: list[PatternTrade]
