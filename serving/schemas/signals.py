"""Requests and answers of the signal, risk and sizing routes (serving/routers/signals.py)."""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from serving.schemas.common import Answer, Body, Finite, Symbol, Timeframe, whole

Units = Annotated[Finite, Field(ge=-1e12, le=1e12, description="units; negative for a short")]
Money = Annotated[Finite, Field(gt=0, le=1e15)]
Price = Annotated[Finite, Field(ge=1e-12, le=1e12)]




# --- requests ---------------------------------------------------------------------------------

class Holding(Body):
    symbol: Symbol
    quantity: Units


class RiskRequest(Body):
    model_config = {**Body.model_config, "json_schema_extra": {
        "examples": [{"positions": [{"symbol": "GOOGL", "quantity": 10}, {"symbol": "SYNA", "quantity": -5}], "lookback": 250}]}}

    positions: list[Holding] = Field(min_length=1, max_length=200)
    timeframe: Timeframe = "1d"
    confidence: Finite = Field(0.95, gt=0.5, lt=1)
    lookback: whole(20, 10_000) = Field(500, description="bars of history")  # type: ignore[valid-type]


# which inputs each method needs: checked by the model and stated in the schema (if/then)
NEEDS = {"fixed_fraction": ["stop_price"], "volatility_target": ["volatility"], "kelly": ["win_probability", "payoff_ratio"]}


def _needs(schema: dict) -> None:
    schema["examples"] = [{"method": "fixed_fraction", "equity": 100_000, "price": 50, "stop_price": 48},
                          {"method": "volatility_target", "equity": 100_000, "price": 50, "volatility": 0.3},
                          {"method": "kelly", "equity": 100_000, "price": 50, "win_probability": 0.6, "payoff_ratio": 1.5}]
    schema["allOf"] = [{"if": {"properties": {"method": {"const": method}}, "required": ["method"]},
                        "then": {"required": fields, "properties": {f: {"type": "number"} for f in fields}}}
                       for method, fields in NEEDS.items()]


class SizingRequest(Body):
    model_config = {**Body.model_config, "json_schema_extra": _needs}

    method: Literal["fixed_fraction", "volatility_target", "kelly"]
    equity: Money
    price: Price
    stop_price: Price | None = Field(None, description="fixed_fraction (required there)")
    risk_fraction: Finite = Field(0.01, gt=0, le=0.2, description="fixed_fraction")
    volatility: Finite | None = Field(None, gt=0, le=100, description="annualized; volatility_target (required there)")
    target_vol: Finite = Field(0.15, gt=0, le=2, description="volatility_target")
    win_probability: Finite | None = Field(None, gt=0, lt=1, description="kelly (required there)")
    payoff_ratio: Finite | None = Field(None, gt=0, le=1e6, description="kelly (required there)")
    kelly_fraction: Finite = Field(0.5, gt=0, le=1)
    cap: Finite = Field(0.25, gt=0, le=1)

    @model_validator(mode="after")
    def _inputs(self) -> "SizingRequest":
        missing = [f for f in NEEDS[self.method] if getattr(self, f) is None]
        if missing:
            raise ValueError(f"method {self.method} needs {', '.join(missing)}")
        return self


# --- answers ----------------------------------------------------------------------------------

class EntrySignal(Answer):
    symbol: str
    timeframe: str
    model_version: str
    as_of: str
    signal: Literal["long", "short", "none"]
    probability: float
    min_confidence: float
    entry: float | None = Field(None, description="with the levels below, present unless the signal is none")
    stop: float | None = None
    target: float | None = None
    horizon_bars: int | None = None
    reward_to_risk: float | None = None
    expected_r: float | None = Field(None, description="expected value in units of risk")


class ExitSignal(Answer):
    symbol: str
    timeframe: str
    side: Literal["long", "short"]
    entry_price: float
    model_version: str
    as_of: str
    action: Literal["exit", "hold"]
    reason: str
    price: float
    stop: float
    target: float
    unrealized_return: float
    probability: float


class RiskFigures(Answer):
    basis: Literal["net value", "gross exposure"]
    from_: str = Field(alias="from")
    to: str
    value: float
    volatility_annualized: float
    max_drawdown: float
    var: float = Field(description="historical value at risk, a fraction of the value")
    cvar: float
    var_amount: float
    cvar_amount: float
    confidence: float
    observations: int


class PositionSize(Answer):
    method: Literal["fixed_fraction", "volatility_target", "kelly"]
    quantity: float
    notional: float
    fraction: float = Field(description="of equity")
    detail: str
