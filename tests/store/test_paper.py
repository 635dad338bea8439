"""The paper ledger on both backends: idempotent retries, concurrent executes keep it exact,
bad orders leave it untouched."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from store.db import transaction
from store.models import Event, PaperOrder
from store.paper import account_state, fills_frame, trades_frame
from trading.broker import IdempotencyConflict, Order, OrderRejected, PaperBroker, Rules
from trading.ledger import Costs

PRICES = {"AAA": 100.0, "BBB": 50.0}


def broker(engine, **rules) -> PaperBroker:
    return PaperBroker(engine, "paper", Costs(commission_bps=5, min_fee=0.5, slippage_bps=3), Rules(**rules))


def check_books(engine) -> None:
    """cash = initial + sum of fills' cash flows; positions = sum of signed fills; P&L adds up."""
    cash, initial, held = account_state(engine, "paper")
    fills = fills_frame(engine, "paper")
    flows = (-fills["side"] * fills["quantity"] * fills["price"] - fills["fee"]).sum()
    assert cash == pytest.approx(initial + flows, abs=1e-6)
    for symbol, rows in fills.groupby("symbol"):
        quantity = (rows["side"] * rows["quantity"]).sum()
        assert held.get(symbol, (0.0, 0.0))[0] == pytest.approx(quantity, abs=1e-9)
    trades = trades_frame(engine, "paper")
    open_ = trades[trades["status"] == "open"]
    for symbol, (quantity, _) in held.items():
        lots = open_[open_["symbol"] == symbol]
        assert ((lots["side"] == "long") * 2 - 1).mul(lots["quantity"]).sum() == pytest.approx(quantity)
    marks = PRICES
    equity = cash + sum(q * marks[s] for s, (q, _) in held.items())
    unrealized = sum(((1 if r.side == "long" else -1) * r.quantity * (marks[r.symbol] - r.entry_price) - r.fees) for r in open_.itertuples())
    realized = trades.loc[trades["status"] == "closed", "realized_pnl"].sum()
    assert equity - initial == pytest.approx(realized + unrealized, abs=1e-6)


def test_a_retried_execute_fills_once(engine):
    b = broker(engine)
    first = b.execute(Order("AAA", "buy", 10), "key-1", PRICES.__getitem__)
    again = b.execute(Order("AAA", "buy", 10), "key-1", PRICES.__getitem__)
    assert again.replayed and again.order_id == first.order_id and again.trades == first.trades
    assert first.fill_price == pytest.approx(100 * 1.0003) and first.fees == pytest.approx(max(0.5, 10 * 100.03 * 5e-4))
    with pytest.raises(IdempotencyConflict, match="was used for another order"):
        b.execute(Order("AAA", "buy", 11), "key-1", PRICES.__getitem__)
    assert len(fills_frame(engine, "paper")) == 1
    check_books(engine)


def test_fifo_closes_and_flips(engine):
    b = broker(engine)
    b.execute(Order("AAA", "buy", 10), "a", PRICES.__getitem__)
    b.execute(Order("AAA", "buy", 5), "b", PRICES.__getitem__)
    flip = b.execute(Order("AAA", "sell", 20), "c", PRICES.__getitem__)
    assert [t.status for t in flip.trades] == ["open", "closed", "closed"] and flip.trades[0].side == "short"
    assert flip.trades[0].quantity == 5
    closed = b.close(flip.trades[0].id, 40.0, key="cover")
    assert closed.status == "closed" and closed.realized_pnl > 0  # short from ~100 covered at ~40
    assert b.close(closed.id, 40.0, key="cover") == closed  # a retried close
    with pytest.raises(IdempotencyConflict):
        b.close(flip.trades[1].id, 40.0, key="a")  # the key of another order
    with pytest.raises(OrderRejected, match="already closed"):
        b.close(closed.id, 40.0)
    check_books(engine)


def test_bad_orders_leave_the_ledger_untouched(engine):
    b = broker(engine, cash=1_000.0, allow_short=False)
    b.execute(Order("AAA", "buy", 5), "ok", PRICES.__getitem__)
    before = (account_state(engine, "paper"), len(trades_frame(engine, "paper")), len(fills_frame(engine, "paper")))
    with pytest.raises(OrderRejected, match="insufficient margin"):
        b.execute(Order("AAA", "buy", 50), "too-big", PRICES.__getitem__)
    with pytest.raises(OrderRejected, match="short selling is off"):
        b.execute(Order("BBB", "sell", 1), "short", PRICES.__getitem__)
    assert (account_state(engine, "paper"), len(trades_frame(engine, "paper")), len(fills_frame(engine, "paper"))) == before
    with transaction(engine) as session:  # the refused orders left no order row and no event
        assert session.execute(select(func.count(PaperOrder.id))).scalar_one() == 1
        assert session.execute(select(func.count(Event.id))).scalar_one() == 1
    resting = b.execute(Order("AAA", "buy", 1, "limit", 90.0), "limit-low", PRICES.__getitem__)
    assert resting.status == "pending" and resting.trades == ()
    assert b.sweep("AAA", {"AAA": 95.0}.__getitem__) == []  # not reached yet
    (filled,) = b.sweep("AAA", {"AAA": 85.0}.__getitem__)
    assert filled.order_id == resting.order_id and filled.fill_price == pytest.approx(85 * 1.0003) and filled.fill_price <= 90
    assert b.sweep("AAA", {"AAA": 80.0}.__getitem__) == []  # filled once


def test_reducing_a_position_is_allowed_past_the_margin_rule(engine):
    b = broker(engine, cash=1_000.0, max_leverage=3)
    b.execute(Order("AAA", "buy", 25), "in", PRICES.__getitem__)  # 2,500 of exposure on 1,000 of equity
    crashed = {"AAA": 70.0}.__getitem__  # now about 7x: adding is refused, reducing is not
    with pytest.raises(OrderRejected, match="insufficient margin"):
        b.execute(Order("AAA", "buy", 1), "more", crashed)
    assert b.execute(Order("AAA", "sell", 5), "less", crashed).status == "filled"


def test_concurrent_executes_keep_the_ledger_exact(engine):
    """16 clients, each sending orders with some retries of the same key: nothing lost, nothing doubled."""
    b = broker(engine, cash=1e7, max_leverage=3)
    orders = [(f"k{i}", Order("AAA" if i % 3 else "BBB", "buy" if i % 5 < 3 else "sell", float(1 + i % 7))) for i in range(96)]
    work = orders + orders[::4]  # a quarter of them retried

    def send(item):
        key, order = item
        return b.execute(order, key, PRICES.__getitem__).order_id

    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(send, work))
    assert len(set(ids)) == len(orders)  # one order per key, retries answered with it
    assert len(fills_frame(engine, "paper")) == len(orders)
    check_books(engine)
