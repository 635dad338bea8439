"""Paper trading over HTTP: execute (idempotent), portfolio, trades, close, stats,
performance and layer attribution (trading/broker.py, trading/performance.py)."""

from typing import Literal

import pandas as pd
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from pydantic import BaseModel, Field, model_validator

from serving.auth import require
from serving.champion import NoChampion
from serving.errors import ApiError
from store.types import iso, plain
from serving.routers.ml import SYMBOL, SeriesRequest, _scored
from store.api_keys import Principal
from store.candles import coverage, last_price, load_candles
from store.paper import account_state, fills_frame, trades_frame
from trading.broker import ACCOUNT, IdempotencyConflict, Order, OrderRejected, PaperBroker, paper_broker
from trading.performance import attribution, equity_curve, figures, trade_stats

router = APIRouter(prefix="/api", tags=["paper trading"])


class OrderIn(BaseModel):
    symbol: str = Field(pattern=SYMBOL)
    side: Literal["buy", "sell"]
    quantity: float = Field(gt=0, le=1e9)
    type: Literal["market", "limit"] = "market"
    limit_price: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _limit(self) -> "OrderIn":
        if (self.type == "limit") != (self.limit_price is not None):
            raise ValueError("a limit order needs `limit_price`; a market order takes none")
        return self


def broker(request: Request) -> PaperBroker:
    return paper_broker(request.app.state.engine, request.app.state.settings)


def price_of(request: Request):
    def lookup(symbol: str) -> float:
        found = last_price(request.app.state.engine, symbol)
        if found is None:
            stored = ", ".join(sorted(set(coverage(request.app.state.engine)["symbol"]))) or "none"
            raise ApiError(404, f"no stored candles for {symbol}: nothing to price it with; stored symbols: {stored}")
        return found[0]
    return lookup


def entry_context(request: Request, symbol: str) -> dict:
    """The served model's view at entry (version and layer contributions), for attribution."""
    try:
        model = request.app.state.champion.current()
    except NoChampion:
        return {}
    stored = [r.timeframe for r in coverage(request.app.state.engine).itertuples() if r.symbol == symbol]
    timeframe = "1d" if "1d" in stored else stored[0]  # the symbol is stored: execute checked its price first
    try:
        scored = _scored(request, SeriesRequest(symbol=symbol, timeframe=timeframe), model, "paper_entry")
    except ApiError:
        return {"model_version": model.version}
    return {"model_version": scored["model_version"], "layers": {k: v["contribution"] for k, v in scored["layers"].items()},
            "probability": scored["probability"]}


@router.post("/paper-trade/execute", summary="Place a paper order; the same Idempotency-Key never fills twice")
def execute(request: Request, body: OrderIn, idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=128),
            _: Principal | None = Depends(require("trade"))) -> dict:
    if not idempotency_key:
        raise ApiError(400, "send an Idempotency-Key header (any unique string per order) so a retried request never fills twice")
    price_of(request)(body.symbol)  # an unknown symbol is a 404 before anything is written
    try:
        return broker(request).execute(Order(body.symbol, body.side, body.quantity, body.type, body.limit_price), idempotency_key,
                                       context=entry_context(request, body.symbol))
    except IdempotencyConflict as exc:
        raise ApiError(409, str(exc)) from None
    except OrderRejected as exc:
        raise ApiError(422, str(exc), "order_rejected") from None


@router.get("/paper-trade/portfolio", summary="Cash, positions at the last stored price, equity, exposure")
def portfolio(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    s = request.app.state.settings
    state = account_state(request.app.state.engine, ACCOUNT)
    cash, initial, held = state if state else (s.paper_cash, s.paper_cash, {})
    lookup = price_of(request)
    positions = []
    for symbol, (quantity, avg) in sorted(held.items()):
        mark = lookup(symbol)
        positions.append({"symbol": symbol, "quantity": quantity, "side": "long" if quantity > 0 else "short", "avg_price": avg,
                          "last_price": mark, "market_value": quantity * mark, "unrealized_pnl": quantity * (mark - avg)})
    value = sum(p["market_value"] for p in positions)
    equity = cash + value
    gross = sum(abs(p["market_value"]) for p in positions)
    realized = trades_frame(request.app.state.engine, ACCOUNT, status="closed")["realized_pnl"].sum()
    return {"account": ACCOUNT, "cash": cash, "equity": equity, "initial_cash": initial, "return": equity / initial - 1,
            "positions": positions, "exposure": {"gross": gross, "net": value, "leverage": gross / equity if equity > 0 else None},
            "realized_pnl": float(realized), "unrealized_pnl": float(sum(p["unrealized_pnl"] for p in positions))}


def _trades(request: Request, status: str | None = None, symbol: str | None = None) -> pd.DataFrame:
    return trades_frame(request.app.state.engine, ACCOUNT, status=status, symbol=symbol)


@router.get("/paper-trades", summary="Paper trades (lots), newest first")
def trades(request: Request, status: Literal["open", "closed"] | None = None, symbol: str | None = Query(None, pattern=SYMBOL),
           limit: int = Query(100, ge=1, le=10_000), _: Principal | None = Depends(require("read"))) -> dict:
    frame = _trades(request, status, symbol).iloc[::-1].head(limit)
    return {"count": len(frame), "trades": plain(frame)}


@router.get("/paper-trades/stats", summary="Counts, win rate, P&L")
def stats(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    return trade_stats(_trades(request))


@router.get("/paper-trades/performance", summary="Return, Sharpe, Sortino, max drawdown, win rate, profit factor, equity curve")
def performance(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    engine = request.app.state.engine
    s = request.app.state.settings
    state = account_state(engine, ACCOUNT)
    initial = state[1] if state else s.paper_cash
    fills = fills_frame(engine, ACCOUNT)
    closes = {sym: load_candles(engine, sym, tf)["close"] for sym, tf in
              {r.symbol: r.timeframe for r in coverage(engine).itertuples() if r.symbol in set(fills["symbol"])}.items()}
    curve = equity_curve(fills, initial, closes, pd.Timestamp.now(tz="UTC"))
    closed = _trades(request, "closed")
    return {**figures(curve, closed["realized_pnl"]), "initial_cash": initial,
            "equity_curve": [{"time": iso(t), "equity": round(float(v), 6)} for t, v in curve.items()]}


@router.get("/paper-trades/attribution", summary="Closed trades' P&L attributed to the fused model's layers at entry")
def layer_attribution(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    return attribution(_trades(request, "closed"))


@router.get("/paper-trades/{trade_id}", summary="One paper trade")
def trade(request: Request, trade_id: int = Path(ge=1), _: Principal | None = Depends(require("read"))) -> dict:
    row = trades_frame(request.app.state.engine, ACCOUNT, trade_id=trade_id)
    if row.empty:
        raise ApiError(404, f"no paper trade #{trade_id}")
    return plain(row)[0]


@router.post("/paper-trades/{trade_id}/close", summary="Close an open paper trade at the current price")
def close(request: Request, trade_id: int = Path(ge=1), idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=128),
          _: Principal | None = Depends(require("trade"))) -> dict:
    try:
        return broker(request).close(trade_id, key=idempotency_key)
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    except IdempotencyConflict as exc:
        raise ApiError(409, str(exc)) from None
    except OrderRejected as exc:
        raise ApiError(409, str(exc), "conflict") from None
