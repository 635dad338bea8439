"""Answers of the summary routes (serving/routers/stats.py)."""

from pydantic import BaseModel, Field

from serving.schemas.common import Answer


class SymbolPnl(BaseModel):
    trades: int
    realized_pnl: float


class TradingStats(Answer):
    trades: int
    open: int
    closed: int
    wins: int
    losses: int
    win_rate: float | None
    realized_pnl: float
    fees: float
    avg_win: float | None
    avg_loss: float | None
    by_symbol: dict[str, SymbolPnl] = Field(description="closed lots per symbol")
    alerts: dict[str, int] = Field(description="alerts by status")


class PatternCount(BaseModel):
    pattern: str
    count: int


class PatternStats(Answer):
    detections: int
    bullish: int
    bearish: int
    series: int
    last_detection: str | None
    top_patterns: list[PatternCount]
    logged_outcomes: int
    logged_hits: int


class MlStats(Answer):
    model: str
    versions: int
    champion_version: str | None
    champion_wf_auc: float | None
    online_head_version: str | None
    predictions_logged: int
    last_prediction_at: str | None


class SystemStats(Answer):
    uptime_s: float
    pid: int
    python: str
    packages: dict[str, str]
    database: str = Field(description="sqlite or postgresql")
    series: int
    rows: dict[str, int]
