"""The paper broker: market and limit orders, long and short, against the stored prices.

An execute runs in one transaction on the locked account (store/paper.py): the same
idempotency key returns the order it already made and fills nothing; otherwise the fill
is priced (last stored close, worse by the slippage), checked against the margin rule,
applied to the symbol's FIFO lots (trading/ledger.py) and written — order, lots,
position, cash and a `fill` event — together or not at all.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, or_, select

from store.models import PaperOrder, PaperTrade
from store.paper import Book, locked_account
from store.types import utcnow
from trading.ledger import Costs, Lot, apply_fill, position_of

SIDES = {"buy": 1, "sell": -1}
ACCOUNT = "paper"  # the platform's paper account


class OrderRejected(ValueError):
    """The order cannot be filled (insufficient margin, nothing to close, a bad price); nothing was written."""


class IdempotencyConflict(ValueError):
    """The key was used before for a different order."""


@dataclass(frozen=True)
class Rules:
    cash: float = 100_000.0  # a new account's starting cash
    max_leverage: float = 1.0  # gross exposure after a fill <= max_leverage x equity
    allow_short: bool = True


@dataclass(frozen=True)
class Order:
    symbol: str
    side: str  # buy | sell
    quantity: float
    type: str = "market"  # market | limit
    limit_price: float | None = None


def _lots(rows: list[PaperTrade]) -> list[Lot]:
    return [Lot(1 if r.side == "long" else -1, r.quantity, r.entry_price, r.fees, r.id) for r in rows]


@dataclass(frozen=True)
class Trade:
    """A paper lot as written: opened by `order_id`, closed (if it is) by `exit_order_id`."""

    id: int
    order_id: int
    exit_order_id: int | None
    symbol: str
    side: str  # long | short
    quantity: float
    entry_price: float
    fees: float | None
    status: str  # open | closed
    exit_price: float | None
    realized_pnl: float | None
    model_version: str | None
    layer_contributions: dict[str, float] | None  # each layer's contribution to the fused log-odds at entry
    opened_at: datetime | None
    closed_at: datetime | None


@dataclass(frozen=True)
class Execution:
    """An order as executed (or replayed: its Idempotency-Key was seen before) and the lots it touched."""

    order_id: int
    idempotency_key: str
    symbol: str
    side: str  # buy | sell
    type: str  # market | limit
    quantity: float
    limit_price: float | None
    status: str  # filled | pending (a resting limit order) | rejected
    fill_price: float | None
    fees: float | None
    created_at: datetime | None
    filled_at: datetime | None
    trades: tuple[Trade, ...]  # opened first, then closed
    replayed: bool

    @property
    def id(self) -> int | None:
        """The first lot the order touched (opened, else closed); None for a resting limit order."""
        return self.trades[0].id if self.trades else None


def trade_of(t: PaperTrade) -> Trade:
    return Trade(t.id, t.order_id, t.exit_order_id, t.symbol, t.side, t.quantity, t.entry_price, t.fees, t.status, t.exit_price,
                 t.realized_pnl, t.model_version, t.layer_contributions, t.opened_at, t.closed_at)


def _executed(order: PaperOrder, trades: list[PaperTrade], replayed: bool) -> Execution:
    return Execution(order.id, order.idempotency_key, order.symbol, order.side, order.type, order.quantity, order.limit_price,
                     order.status, order.fill_price, order.fees, order.created_at, order.filled_at,
                     tuple(trade_of(t) for t in trades), replayed)


def _touched(book: Book, order_id: int) -> list[PaperTrade]:
    """Lots the order opened, then lots it closed."""
    query = select(PaperTrade).where(or_(PaperTrade.order_id == order_id, PaperTrade.exit_order_id == order_id))
    rows = list(book.session.execute(query.order_by(PaperTrade.id)).scalars())
    return sorted(rows, key=lambda t: t.order_id != order_id)


class PaperBroker:
    def __init__(self, engine: Engine, account: str = ACCOUNT, costs: Costs = Costs(), rules: Rules = Rules()) -> None:
        self.engine, self.account, self.costs, self.rules = engine, account, costs, rules

    def execute(self, order: Order, key: str, price_of: Callable[[str], float] | None = None, context: dict | None = None) -> Execution:
        """Fill `order` at the current price (default: the last stored close, read inside the
        locked transaction), or return what the same `key` did before. `context`: model
        version and layer contributions at entry, kept on the lots this order opens."""
        side = SIDES[order.side]
        with locked_account(self.engine, self.account, self.rules.cash) as book:
            done = book.order_by_key(key)
            if done is not None:
                same = (done.symbol, done.side, done.type, done.quantity, done.limit_price) == (
                    order.symbol, order.side, order.type, order.quantity, order.limit_price)
                if not same:
                    raise IdempotencyConflict(f"Idempotency-Key {key!r} was used for another order (#{done.id}: "
                                              f"{done.side} {done.quantity:g} {done.symbol} {done.type})")
                return _executed(done, _touched(book, done.id), replayed=True)
            price_of = price_of or book.last_price
            fill = self.costs.fill_price(side, price_of(order.symbol))
            marketable = order.type == "market" or (side * (order.limit_price - fill) >= 0)
            row = book.add(PaperOrder(account_id=book.account.id, idempotency_key=key, symbol=order.symbol, side=order.side,
                                      type=order.type, quantity=order.quantity, limit_price=order.limit_price,
                                      status="pending", created_at=utcnow()))
            if not marketable:  # a resting limit order: recorded, not filled at this price
                return _executed(row, [], replayed=False)
            return self._fill(book, row, side, fill, price_of, context or {})

    def _fill(self, book: Book, order: PaperOrder, side: int, fill: float, price_of: Callable[[str], float], context: dict,
              rows: list[PaperTrade] | None = None, event: str = "fill") -> Execution:
        """Apply the fill to `rows` (default: the symbol's open lots, FIFO) and write it all."""
        rows = book.open_lots(order.symbol) if rows is None else rows
        lots = _lots(rows)
        held, _ = position_of(lots)
        if side * held >= 0 and side < 0 and not self.rules.allow_short:
            raise OrderRejected(f"short selling is off (TX_PAPER_ALLOW_SHORT=false) and no {order.symbol} long is open")
        fee = self.costs.fee(order.quantity, fill)
        applied = apply_fill(lots, side, order.quantity, fill, fee)
        before = book.positions()
        after = {**before, order.symbol: before.get(order.symbol, 0.0) + side * order.quantity}
        marks = {s: price_of(s) for s in after if s != order.symbol} | {order.symbol: fill}
        gross_before, gross = (sum(abs(q) * marks[s] for s, q in held_.items()) for held_ in (before, after))
        equity_after = book.account.cash + applied.cash_delta + sum(q * marks[s] for s, q in after.items())
        # the margin rule refuses what adds exposure; reducing a position is always allowed
        if gross > gross_before + 1e-9 and (equity_after <= 0 or gross > self.rules.max_leverage * equity_after + 1e-6):
            raise OrderRejected(f"insufficient margin: after this order gross exposure would be {gross:,.2f} against equity "
                                f"{equity_after:,.2f} (max leverage {self.rules.max_leverage:g}x, TX_PAPER_MAX_LEVERAGE); "
                                f"cash {book.account.cash:,.2f}")
        now = utcnow()
        order.status, order.filled_at, order.fill_price, order.fees = "filled", now, fill, fee
        by_id = {r.id: r for r in rows}
        touched: list[PaperTrade] = []
        realized = 0.0
        for c in applied.closed:
            lot = by_id[c.lot.id]
            realized += c.realized_pnl
            fees = c.lot.fees + fee * c.quantity / order.quantity  # its entry fees and its share of this fill's
            if c.remaining is None:  # the whole lot closes
                lot.status, lot.exit_price, lot.realized_pnl, lot.closed_at = "closed", fill, c.realized_pnl, now
                lot.fees, lot.exit_order_id = fees, order.id
                touched.append(lot)
            else:  # split: the closed part becomes its own row, the rest stays open
                lot.quantity, lot.fees = c.remaining.quantity, c.remaining.fees
                touched.append(book.add(PaperTrade(
                    account_id=lot.account_id, order_id=lot.order_id, exit_order_id=order.id, symbol=lot.symbol, side=lot.side, quantity=c.quantity,
                    entry_price=lot.entry_price, fees=fees, status="closed", exit_price=fill,
                    realized_pnl=c.realized_pnl, model_version=lot.model_version, layer_contributions=lot.layer_contributions,
                    opened_at=lot.opened_at, closed_at=now)))
        if applied.opened is not None:
            touched.insert(0, book.add(PaperTrade(
                account_id=book.account.id, order_id=order.id, symbol=order.symbol, side="long" if side > 0 else "short",
                quantity=applied.opened.quantity, entry_price=fill, fees=applied.opened.fees, status="open",
                model_version=context.get("model_version"), layer_contributions=context.get("layers"), opened_at=now)))
        remaining = _lots(book.open_lots(order.symbol))
        quantity, avg = position_of(remaining)
        book.set_position(order.symbol, quantity, avg, realized)
        book.account.cash = book.account.cash + applied.cash_delta
        done = _executed(order, touched, replayed=False)
        book.event(event, order.symbol, {"id": done.id, "order_id": done.order_id, "symbol": done.symbol, "side": done.side,
                                         "quantity": done.quantity, "fill_price": done.fill_price, "fees": done.fees,
                                         "status": done.status, "realized_pnl": realized})
        return done

    def sweep(self, symbol: str, price_of: Callable[[str], float] | None = None) -> list[Execution]:
        """Fill the resting limit orders of `symbol` (oldest first) that the current price now
        reaches, at that price (the limit or better); one the margin rule refuses is marked
        rejected. The candles step sweeps a symbol whenever it stores new bars of it."""
        filled = []
        with locked_account(self.engine, self.account, self.rules.cash) as book:
            price_of = price_of or book.last_price
            for order in book.resting(symbol):
                side = SIDES[order.side]
                fill = self.costs.fill_price(side, price_of(symbol))
                if side * (order.limit_price - fill) < 0:
                    continue
                try:
                    filled.append(self._fill(book, order, side, fill, price_of, {}))
                except OrderRejected:  # nothing was written for it: mark it and go on
                    order.status = "rejected"
        return filled

    def close(self, trade_id: int, price: float | None = None, key: str | None = None) -> Trade:
        """Close an open lot at `price` (default: the last stored close) with an offsetting market order."""
        with locked_account(self.engine, self.account, self.rules.cash) as book:
            trade = book.trade(trade_id)
            if trade is None:
                raise LookupError(f"no paper trade #{trade_id}")
            done = book.order_by_key(key or f"close-{trade_id}")
            if done is not None:  # a retried close answers with the trade it closed
                if trade.exit_order_id != done.id:
                    raise IdempotencyConflict(f"Idempotency-Key {key!r} was used for another order (#{done.id})" if key else
                                              f"the default key close-{trade_id} was used for another order (#{done.id}): "
                                              "send an Idempotency-Key")
                if key:
                    return trade_of(trade)
            if trade.status != "open":
                raise OrderRejected(f"paper trade #{trade_id} is already {trade.status}")
            side = -1 if trade.side == "long" else 1
            fill = self.costs.fill_price(side, price if price is not None else book.last_price(trade.symbol))
            order = book.add(PaperOrder(account_id=book.account.id, idempotency_key=key or f"close-{trade_id}", symbol=trade.symbol,
                                        side="buy" if side > 0 else "sell", type="market", quantity=trade.quantity,
                                        status="pending", created_at=utcnow()))
            self._fill(book, order, side, fill, book.last_price, {}, rows=[trade], event="close")  # exactly this lot, not FIFO
            return trade_of(trade)


def paper_broker(engine: Engine, s) -> PaperBroker:
    """The platform's paper account with the costs and rules of the settings `s` (TX_PAPER_*)."""
    return PaperBroker(engine, ACCOUNT, Costs(commission_bps=s.paper_commission_bps, min_fee=s.paper_min_fee, slippage_bps=s.paper_slippage_bps),
                       Rules(cash=s.paper_cash, max_leverage=s.paper_max_leverage, allow_short=s.paper_allow_short))
