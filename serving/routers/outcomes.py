"""Realized outcomes of signals, alerts, trades, predictions and detections, logged by clients."""

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from features.patterns import PATTERNS
from market.universe import TIMEFRAMES
from serving.auth import require
from serving.errors import ApiError
from serving.routers.ml import SYMBOL
from store.api_keys import Principal
from store.outcomes import log_outcome

router = APIRouter(prefix="/api/outcomes", tags=["outcomes"])


class OutcomeIn(BaseModel):
    subject_type: Literal["signal", "alert", "trade", "prediction", "detection"]
    subject_id: int | None = Field(None, ge=1)
    symbol: str = Field(pattern=SYMBOL)
    timeframe: Literal[TIMEFRAMES] | None = None  # type: ignore[valid-type]
    pattern: str | None = Field(None, description="a TA-Lib name (CDLENGULFING) or its key (engulfing)")
    realized_return: float | None = Field(None, gt=-1, le=100)
    hit: bool | None = None
    horizon_bars: int | None = Field(None, ge=1, le=100_000)
    resolved_at: AwareDatetime

    @model_validator(mode="after")
    def _something_happened(self) -> "OutcomeIn":
        if self.hit is None and self.realized_return is None:
            raise ValueError("give `hit`, `realized_return` or both: an outcome without either says nothing")
        return self


def pattern_name(text: str) -> str:
    """CDLENGULFING, cdlengulfing or engulfing -> CDLENGULFING; a clear 422 otherwise."""
    name = text.strip().upper()
    name = name if name.startswith("CDL") else "CDL" + name.replace("_", "")
    if name not in PATTERNS:
        raise ApiError(422, f"unknown pattern {text!r}: /api/patterns/list has the {len(PATTERNS)} supported")
    return name


@router.post("/log", status_code=201, summary="Record the realized outcome of a signal, alert, trade, prediction or detection")
def log(request: Request, body: OutcomeIn, _: Principal | None = Depends(require("trade"))) -> dict:
    row = body.model_dump()
    if body.pattern is not None:
        row["pattern"] = pattern_name(body.pattern)
    if row["hit"] is None:
        row["hit"] = row["realized_return"] > 0
    return {"id": log_outcome(request.app.state.engine, row), **row, "resolved_at": body.resolved_at.isoformat()}
