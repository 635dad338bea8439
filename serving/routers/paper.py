"""Paper trading over HTTP: execute (idempotent), portfolio, trades, close, stats,
performance and layer attribution (trading/broker.py, trading/performance.py)."""

from typing import Literal

import pandas as pd
from fastapi import APIRouter, Depends, Header, Path, Query, Request

from serving.auth import require
from serving.champion import NoChampion
from serving.deps import broker, price_of, scored
from serving.errors import ApiError
from serving.schemas.common import AUTH, MAX_ID, Symbol, errors
from serving.schemas.paper import (IDEMPOTENCY_DOC, IDEMPOTENCY_KEY, Attribution, OrderAnswer, OrderIn, Performance, Portfolio, TradeList,
                                   TradeRow, TradeStats)
from serving.schemas.series import SeriesRequest
from store.api_keys import Principal
from store.candles import coverage, load_candles
from store.paper import account_state, fills_frame, trades_frame
from store.types import iso, plain
from trading.broker import ACCOUNT, Execution, IdempotencyConflict, Order, OrderRejected, Trade
from trading.performance import attribution, equity_curve, figures, trade_stats

router = APIRouter(prefix="/api", tags=["paper trading"], responses=errors(*AUTH))

TRADE_ID = Path(ge=1, le=MAX_ID, description="a paper trade's id (`id` of an execute answer or a listed trade)")
# the trade an execute opened (or closed) can be read and closed: links for clients and stateful fuzzers
TRADE_LINKS = {
    "GetTrade": {"operationRef": "#/paths/~1api~1paper-trades~1{trade_id}/get", "parameters": {"trade_id": "$response.body#/id"},
                 "description": "the lot this order opened (or closed)"},
    "CloseTrade": {"operationRef": "#/paths/~1api~1paper-trades~1{trade_id}~1close/post", "parameters": {"trade_id": "$response.body#/id"},
                   "description": "close the lot this order opened"},
}


def trade_answer(t: Trade) -> dict:
    """A lot as the API writes it (TradeRow): times as ISO-8601 UTC."""
    return {"id": t.id, "order_id": t.order_id, "exit_order_id": t.exit_order_id, "symbol": t.symbol, "side": t.side, "quantity": t.quantity,
            "entry_price": t.entry_price, "fees": t.fees, "status": t.status, "exit_price": t.exit_price,
            "realized_pnl": t.realized_pnl, "model_version": t.model_version, "layer_contributions": t.layer_contributions,
            "opened_at": iso(t.opened_at), "closed_at": iso(t.closed_at)}


def order_answer(e: Execution) -> dict:
    """An execution as the API writes it (OrderAnswer)."""
    return {"id": e.id, "order_id": e.order_id, "idempotency_key": e.idempotency_key, "symbol": e.symbol, "side": e.side, "type": e.type,
            "quantity": e.quantity, "limit_price": e.limit_price, "status": e.status, "fill_price": e.fill_price, "fees": e.fees,
            "created_at": iso(e.created_at), "filled_at": iso(e.filled_at), "trades": [trade_answer(t) for t in e.trades],
            "replayed": e.replayed}


def entry_context(request: Request, symbol: str) -> dict:
    """The served model's view at entry (version and layer contributions), for attribution."""
    try:
        model = request.app.state.champion.current()
    except NoChampion:
        return {}
    stored = [r.timeframe for r in coverage(request.app.state.engine).itertuples() if r.symbol == symbol]
    timeframe = "1d" if "1d" in stored else stored[0]  # the symbol is stored: execute checked its price first
    try:
        view = scored(request, SeriesRequest(symbol=symbol, timeframe=timeframe), model, "paper_entry")
    except ApiError:
        return {"model_version": model.version}
    return {"model_version": view["model_version"], "layers": {k: v["contribution"] for k, v in view["layers"].items()},
            "probability": view["probability"]}


@router.post("/paper-trade/execute", summary="Place a paper order; the same Idempotency-Key never fills twice", response_model=OrderAnswer,
             responses={**errors(404, 409), 200: {"links": TRADE_LINKS}})
def execute(request: Request, body: OrderIn,
            idempotency_key: str = Header(alias="Idempotency-Key", min_length=1, max_length=128, pattern=IDEMPOTENCY_KEY,
                                          description=IDEMPOTENCY_DOC),
            _: Principal | None = Depends(require("trade"))) -> dict:
    """404: no stored candles to price the symbol. 409: the Idempotency-Key was used for another order.
    422 `bad_order`: a limit order without `limit_price` or a market order with one; `order_rejected`:
    the broker refused it (insufficient margin, short selling off)."""
    if (body.type == "limit") != (body.limit_price is not None):
        raise ApiError(422, "a limit order needs `limit_price`; a market order takes none", "bad_order", field="limit_price")
    price_of(request)(body.symbol)  # an unknown symbol is a 404 before anything is written
    try:
        return order_answer(broker(request).execute(Order(body.symbol, body.side, body.quantity, body.type, body.limit_price),
                                                    idempotency_key, context=entry_context(request, body.symbol)))
    except IdempotencyConflict as exc:
        raise ApiError(409, str(exc), field="Idempotency-Key") from None
    except OrderRejected as exc:
        raise ApiError(422, str(exc), "order_rejected") from None
    except LookupError as exc:  # a held symbol lost its stored candles: nothing to mark it with
        raise ApiError(404, str(exc)) from None


@router.get("/paper-trade/portfolio", summary="Cash, positions at the last stored price, equity, exposure", response_model=Portfolio,
            responses=errors(404))
def portfolio(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    """404: a held symbol has no stored candles left to price it with."""
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


@router.get("/paper-trades", summary="Paper trades (lots), newest first", response_model=TradeList,
            responses={200: {"links": {name: link | {"parameters": {"trade_id": "$response.body#/trades/0/id"},
                                                     "description": "the newest trade listed"} for name, link in TRADE_LINKS.items()}}})
def trades(request: Request, status: Literal["open", "closed"] | None = None, symbol: Symbol | None = Query(None),
           limit: int = Query(100, ge=1, le=10_000), _: Principal | None = Depends(require("read"))) -> dict:
    frame = _trades(request, status, symbol).iloc[::-1].head(limit)
    return {"count": len(frame), "trades": plain(frame)}


@router.get("/paper-trades/stats", summary="Counts, win rate, P&L", response_model=TradeStats)
def stats(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    return trade_stats(_trades(request))


@router.get("/paper-trades/performance", summary="Return, Sharpe, Sortino, max drawdown, win rate, profit factor, equity curve",
            response_model=Performance, response_model_exclude_unset=True)
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


@router.get("/paper-trades/attribution", summary="Closed trades' P&L attributed to the fused model's layers at entry",
            response_model=Attribution)
def layer_attribution(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    return attribution(_trades(request, "closed"))


@router.get("/paper-trades/{trade_id}", summary="One paper trade", response_model=TradeRow, responses=errors(404))
def trade(request: Request, trade_id: int = TRADE_ID, _: Principal | None = Depends(require("read"))) -> dict:
    row = trades_frame(request.app.state.engine, ACCOUNT, trade_id=trade_id)
    if row.empty:
        raise ApiError(404, f"no paper trade #{trade_id}")
    return plain(row)[0]


@router.post("/paper-trades/{trade_id}/close", summary="Close an open paper trade at the current price", response_model=TradeRow,
             responses=errors(404, 409))
def close(request: Request, trade_id: int = TRADE_ID,
          idempotency_key: str | None = Header(None, alias="Idempotency-Key", min_length=1, max_length=128, pattern=IDEMPOTENCY_KEY,
                                               description="optional: a retried close with the same key answers with the trade it closed"),
          _: Principal | None = Depends(require("trade"))) -> dict:
    """404: no such trade. 409: the trade is already closed, or the Idempotency-Key was used for another order."""
    try:
        return trade_answer(broker(request).close(trade_id, key=idempotency_key))
    except LookupError as exc:
        raise ApiError(404, str(exc)) from None
    except IdempotencyConflict as exc:
        raise ApiError(409, str(exc), field="Idempotency-Key") from None
    except OrderRejected as exc:
        raise ApiError(409, str(exc), "conflict") from None
