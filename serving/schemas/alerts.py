"""Alerts' answer models (serving/routers/alerts.py); rows as store/alerts.py writes them."""

from typing import Any, Literal

from pydantic import Field

from serving.schemas.common import Answer, Stamp


class AlertRow(Answer):
    id: int
    symbol: str
    timeframe: str
    direction: str = Field(description="up or down")
    confidence: float | None = None
    source: str
    model_version: str | None = None
    prediction_id: int | None = None
    data_partition: str | None = Field(None, description="SYMBOL:TF@ISO: the bar the alert was raised on")
    status: str = Field(description="active or dismissed")
    created_at: Stamp | None = None
    dismissed_at: Stamp | None = None


class Alert(AlertRow):
    evidence: dict[str, Any] | None = Field(None, description="the model's layers and explanation behind the alert")


class AlertList(Answer):
    count: int
    alerts: list[Alert]


class JudgedAlert(AlertRow):
    outcome: Literal["hit", "miss", "pending"] = Field(description="the label its bar matured to, read in the alert's direction")


class AlertHistory(Answer):
    count: int
    alerts: list[JudgedAlert]


class HitFigures(Answer):
    alerts: int
    matured: int
    hit_rate: float | None = None


class AlertStats(HitFigures):
    by_status: dict[str, int]
    by_symbol: dict[str, HitFigures]
    by_source: dict[str, HitFigures]
