"""Outcomes' request and answer models (serving/routers/outcomes.py)."""

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from serving.schemas.common import Answer, Body, Finite, Id, Instant, Stamp, Symbol, Timeframe

StrictId = Annotated[Id, Field(strict=True)]  # in a body: a JSON integer, not "5" or true
SUBJECTS = Literal["signal", "alert", "trade", "prediction", "detection"]


class OutcomeIn(Body):
    """What happened to a signal, alert, trade, prediction or detection. Give `hit`,
    `realized_return` or both (an outcome with neither is refused: 422 `no_outcome`);
    without `hit`, a positive return is a hit."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"properties": {"hit": {"type": "boolean"}}, "required": ["hit"]},
        {"properties": {"realized_return": {"type": "number"}}, "required": ["realized_return"]},
    ], "examples": [{"subject_type": "detection", "symbol": "GOOGL", "timeframe": "1d", "pattern": "engulfing", "realized_return": 0.021,
                     "horizon_bars": 5, "resolved_at": "2018-08-29T00:00:00Z"}]})

    subject_type: SUBJECTS
    subject_id: StrictId | None = None
    symbol: Symbol
    timeframe: Timeframe | None = None
    pattern: str | None = Field(None, min_length=1, max_length=64,
                                description="a TA-Lib name (CDLENGULFING) or its key (engulfing): /api/patterns/list")
    realized_return: Finite | None = Field(None, gt=-1, le=100, description="as a fraction: 0.02 is +2 %")
    hit: Annotated[bool, Field(strict=True)] | None = None
    horizon_bars: Annotated[int, Field(strict=True, ge=1, le=100_000)] | None = None
    resolved_at: Instant


class OutcomeLogged(Answer):
    id: int
    subject_type: SUBJECTS
    subject_id: int | None = None
    symbol: str
    timeframe: str | None = None
    pattern: str | None = None
    realized_return: float | None = None
    hit: bool
    horizon_bars: int | None = None
    resolved_at: Stamp
