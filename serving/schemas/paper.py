"""Paper trading's request and answer models (serving/routers/paper.py).

An order's quantity is a JSON number between MIN_QUANTITY and 1e9: the ledger
(trading/ledger.py) treats anything under 1e-9 as nothing (a fill that small opens no lot),
so the smallest order is a millionth of a unit, fractional shares to six decimals."""

from typing import Literal

from pydantic import ConfigDict, Field

from serving.schemas.common import Answer, Body, Finite, Stamp, Symbol

MIN_QUANTITY = 1e-6  # the smallest order: well above the ledger's EPS (1e-9), six decimals of a unit
MAX_QUANTITY = 1e9
MAX_PRICE = 1e12
IDEMPOTENCY_KEY = r"^[!-~]([ -~]{0,126}[!-~])?$"  # printable ASCII, no leading or trailing blank (HTTP trims those)
IDEMPOTENCY_DOC = "a unique string per order (printable ASCII, 1-128 characters): a retried request with the same key never fills twice"


class OrderIn(Body):
    """A market order (no `limit_price`) or a limit order (with one)."""

    # the rule the route enforces (422 `bad_order`), said in the schema too
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"properties": {"type": {"const": "market"}, "limit_price": {"type": "null"}}},
        {"properties": {"type": {"const": "limit"}, "limit_price": {"type": "number"}}, "required": ["type", "limit_price"]},
    ], "examples": [{"symbol": "GOOGL", "side": "buy", "quantity": 10},
                    {"symbol": "GOOGL", "side": "sell", "quantity": 2.5, "type": "limit", "limit_price": 1250.0}]})

    symbol: Symbol
    side: Literal["buy", "sell"]
    quantity: Finite = Field(ge=MIN_QUANTITY, le=MAX_QUANTITY, description=f"units, {MIN_QUANTITY:g} to {MAX_QUANTITY:g}")
    type: Literal["market", "limit"] = "market"
    limit_price: Finite | None = Field(None, gt=0, le=MAX_PRICE,
                                       description="required for a limit order (fills at this price or better), refused for a market order")


class TradeRow(Answer):
    """A paper lot: opened by `order_id`, closed (if it is) by `exit_order_id`."""

    id: int
    order_id: int
    exit_order_id: int | None = None
    symbol: str
    side: Literal["long", "short"]
    quantity: float
    entry_price: float
    fees: float | None = None
    status: Literal["open", "closed"]
    exit_price: float | None = None
    realized_pnl: float | None = None
    model_version: str | None = None
    layer_contributions: dict[str, float] | None = Field(None, description="each layer's contribution to the fused log-odds at entry")
    opened_at: Stamp | None = None
    closed_at: Stamp | None = None


class OrderAnswer(Answer):
    """An order as executed (or replayed: the same Idempotency-Key again)."""

    id: int | None = Field(None, description="the first lot the order touched (opened, else closed); null for a resting limit order")
    order_id: int
    idempotency_key: str
    symbol: str
    side: Literal["buy", "sell"]
    type: Literal["market", "limit"]
    quantity: float
    limit_price: float | None = None
    status: str = Field(description="filled, pending (a resting limit order) or rejected")
    fill_price: float | None = None
    fees: float | None = None
    created_at: Stamp | None = None
    filled_at: Stamp | None = None
    trades: list[TradeRow]
    replayed: bool = Field(description="true when the Idempotency-Key was seen before: nothing was filled again")


class Position(Answer):
    symbol: str
    quantity: float
    side: Literal["long", "short"]
    avg_price: float
    last_price: float
    market_value: float
    unrealized_pnl: float


class Exposure(Answer):
    gross: float
    net: float
    leverage: float | None = None


class Portfolio(Answer):
    account: str
    cash: float
    equity: float
    initial_cash: float
    return_: float = Field(alias="return")
    positions: list[Position]
    exposure: Exposure
    realized_pnl: float
    unrealized_pnl: float


class TradeList(Answer):
    count: int
    trades: list[TradeRow]


class SymbolPnl(Answer):
    trades: int
    realized_pnl: float


class TradeStats(Answer):
    trades: int
    open: int
    closed: int
    wins: int
    losses: int
    win_rate: float | None = None
    realized_pnl: float | None = None
    fees: float | None = None
    avg_win: float | None = None
    avg_loss: float | None = None
    by_symbol: dict[str, SymbolPnl]


class EquityPoint(Answer):
    time: Stamp | None = None
    equity: float | None = None


class Performance(Answer):
    start_equity: float | None = None
    equity: float | None = None
    total_return: float | None = None
    max_drawdown: float | None = None
    sharpe: float | None = None
    sortino: float | None = None
    note: str | None = None
    closed_trades: int
    win_rate: float | None = None
    profit_factor: float | None = None
    realized_pnl: float | None = None
    initial_cash: float
    equity_curve: list[EquityPoint]


class LayerFigures(Answer):
    pnl: float | None = None
    backed: int
    backed_wins: int
    opposed: int
    win_rate_when_backed: float | None = None


class AttributedTrade(Answer):
    id: int
    symbol: str
    side: Literal["long", "short"]
    realized_pnl: float | None = None
    model_version: str | None = None
    layers: dict[str, float]


class Attribution(Answer):
    layers: dict[str, LayerFigures]
    trades: list[AttributedTrade]
    unattributed_pnl: float | None = None
    method: str
