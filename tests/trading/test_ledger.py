"""The ledger's invariants under random order sequences (hypothesis)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.ledger import Costs, Lot, apply_fill, position_of

orders = st.lists(st.tuples(st.sampled_from([1, -1]), st.integers(1, 50), st.floats(10, 200), st.floats(10, 200)),
                  min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(orders, st.floats(0, 20), st.floats(0, 30))
def test_cash_plus_positions_is_equity_and_pnl_adds_up(sequence, commission_bps, slippage_bps):
    costs = Costs(commission_bps=commission_bps, slippage_bps=slippage_bps)
    cash0 = cash = 1e6
    lots: list[Lot] = []
    realized = fees = 0.0
    for side, qty, price, mark in sequence:
        fill = costs.fill_price(side, price)
        fee = costs.fee(qty, fill)
        applied = apply_fill(lots, side, float(qty), fill, fee)
        cash += applied.cash_delta
        fees += fee
        realized += sum(c.realized_pnl for c in applied.closed)
        remaining = [c.remaining for c in applied.closed if c.remaining is not None]
        touched = len(applied.closed)
        lots = remaining + lots[touched:] + ([applied.opened] if applied.opened else [])
        assert len({lot.side for lot in lots}) <= 1 and all(lot.quantity > 0 for lot in lots)
        quantity, _ = position_of(lots)
        equity = cash + quantity * mark
        unrealized = sum(lot.unrealized(mark) for lot in lots)
        # nothing lost, nothing doubled: every unit of cash is in a realized or unrealized P&L
        assert equity - cash0 == pytest.approx(realized + unrealized, abs=1e-6 * max(1.0, abs(equity)))
    assert fees >= 0


def test_partial_close_splits_the_lot_and_shares_the_fees():
    lots = [Lot(1, 10, 100.0, 1.0, id=7)]
    applied = apply_fill(lots, -1, 4, 110.0, 0.4)
    (closed,) = applied.closed
    assert closed.quantity == 4 and closed.lot.fees == pytest.approx(0.4) and closed.remaining.quantity == 6
    assert closed.remaining.id == 7 and closed.remaining.fees == pytest.approx(0.6)
    assert closed.realized_pnl == pytest.approx(4 * 10 - 0.4 - 0.4) and applied.opened is None
    flipped = apply_fill([closed.remaining], -1, 10, 90.0, 1.0)
    assert flipped.closed[0].remaining is None and flipped.opened.side == -1 and flipped.opened.quantity == 4
    assert flipped.opened.fees == pytest.approx(0.4) and flipped.cash_delta == pytest.approx(10 * 90 - 1.0)


@pytest.mark.parametrize(("side", "qty", "price", "fee"), [(0, 1, 1, 0), (1, 0, 1, 0), (1, -2, 1, 0), (1, 1, 0, 0), (1, 1, 1, -1)])
def test_bad_fills_are_refused(side, qty, price, fee):
    with pytest.raises(ValueError):
        apply_fill([], side, qty, price, fee)
