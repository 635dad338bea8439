"""Market data's query types and answer models (serving/routers/market.py).

These reads are answered from the per-worker cache as ready-made JSON (serving/cache.py):
the models document the answers (FastAPI does not re-validate a returned Response), so
the builders in the router write exactly these fields."""

from typing import Annotated, Literal

from pydantic import Field, ValidationError, ValidatorFunctionWrapHandler, WrapValidator

from market.universe import INTRADAY
from serving.schemas.common import Answer, Stamp

MAX_BARS = 10_000


def _intraday(value: object, handler: ValidatorFunctionWrapHandler) -> str:
    try:
        return handler(value)
    except ValidationError:
        raise ValueError(f"intraday is one of {', '.join(INTRADAY)}; daily history is /api/historical/{{symbol}}") from None


Intraday = Annotated[Literal[INTRADAY], WrapValidator(_intraday)]  # type: ignore[valid-type]


class Candle(Answer):
    timestamp: Stamp = Field(description="the bar's open time, UTC")
    open: float
    high: float
    low: float
    close: float
    volume: float


class Candles(Answer):
    """Bars of one series, oldest first."""

    symbol: str
    timeframe: str
    count: int = Field(ge=0)
    candles: list[Candle]


class Snapshot(Answer):
    """The latest bar of a series; change and volatility need 2 and 3+ bars."""

    symbol: str
    timeframe: str
    as_of: Stamp = Field(description="the latest bar's open time")
    last_price: float
    volume: float
    high: float
    low: float
    change: float | None = Field(None, description="last close minus the previous one")
    change_pct: float | None = Field(None, description="the change as a fraction of the previous close")
    volatility_annualized: float | None = Field(None, description="std of the last 20 log returns, annualized")


class MarketData(Snapshot):
    indicators: dict[str, float | None] = Field(description="the latest bar's features (features/indicators.py); null while warming up")


class TimeframeSpan(Answer):
    timeframe: str
    bars: int = Field(ge=0)
    first: Stamp | None
    last: Stamp | None


class SymbolRow(Answer):
    symbol: str
    timeframes: list[TimeframeSpan]


class Symbols(Answer):
    symbols: list[SymbolRow]


class SeriesCoverage(Answer):
    symbol: str
    timeframe: str
    bars: int = Field(ge=0)
    first: Stamp | None
    last: Stamp | None
    gaps: int = Field(ge=0, description="runs of missing bars against the timeframe's expected calendar")
    missing_bars: int = Field(ge=0)
    longest_gap_bars: int = Field(ge=0)
    providers: dict[str, int] = Field(description="bars per provider that supplied them")


class DataCoverage(Answer):
    series: list[SeriesCoverage]
