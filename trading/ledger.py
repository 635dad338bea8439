"""The paper ledger's arithmetic: fills against FIFO lots, with fees and slippage.

Plain data in, plain data out, so the invariants can be proven without a database
(tests/trading/test_ledger.py, hypothesis):

- cash moves by -side x quantity x price - fee on every fill (shorts receive proceeds);
- a fill first closes open lots of the other side, oldest first (a partial close splits
  the lot: the closed part becomes its own closed lot), and opens a lot with the rest;
- every fee is carried by the lots it belongs to, so
      equity - initial cash = sum(realized P&L) + sum(unrealized P&L)
  holds exactly at any mark, where equity = cash + sum(side x quantity x mark).
"""

from dataclasses import dataclass, field, replace

EPS = 1e-9


@dataclass(frozen=True)
class Costs:
    """Commission in basis points of notional (at least `min_fee`) and slippage in basis points."""

    commission_bps: float = 1.0
    min_fee: float = 0.0
    slippage_bps: float = 2.0

    def fill_price(self, side: int, price: float) -> float:
        """The price a market order of `side` (+1 buy, -1 sell) gets: worse by the slippage."""
        return price * (1 + side * self.slippage_bps / 1e4)

    def fee(self, quantity: float, price: float) -> float:
        return max(self.min_fee, abs(quantity) * price * self.commission_bps / 1e4)


@dataclass(frozen=True)
class Lot:
    """An open position lot: `side` +1 long / -1 short, `fees` its entry fees not yet realized."""

    side: int
    quantity: float
    entry_price: float
    fees: float
    id: int | None = None

    def unrealized(self, mark: float) -> float:
        return self.side * self.quantity * (mark - self.entry_price) - self.fees


@dataclass(frozen=True)
class Closed:
    """The closed part of a lot (the whole lot when `remaining` is None)."""

    lot: Lot
    quantity: float
    exit_price: float
    realized_pnl: float
    remaining: Lot | None  # what is left open of the lot (same id), if anything


@dataclass(frozen=True)
class Applied:
    cash_delta: float
    closed: list[Closed] = field(default_factory=list)
    opened: Lot | None = None
    fee: float = 0.0


def apply_fill(lots: list[Lot], side: int, quantity: float, price: float, fee: float) -> Applied:
    """Apply a fill of `quantity` > 0 at `price` to one symbol's open lots (oldest first, all
    on one side). The fee is shared by the closed parts and the new lot, by quantity."""
    if side not in (1, -1):
        raise ValueError(f"side must be +1 or -1, got {side}")
    if not quantity > 0 or not price > 0 or fee < 0:
        raise ValueError("quantity and price must be > 0 and the fee >= 0")
    if len({lot.side for lot in lots}) > 1:
        raise ValueError("open lots of one symbol are all on one side")
    left, closed = quantity, []
    for lot in lots if lots and lots[0].side == -side else ():  # same side: adds a lot
        if left <= EPS:
            break
        q = min(lot.quantity, left)
        share = q / lot.quantity
        entry_fee = lot.fees * share
        exit_fee = fee * q / quantity
        pnl = lot.side * q * (price - lot.entry_price) - entry_fee - exit_fee
        rest = lot.quantity - q
        remaining = replace(lot, quantity=rest, fees=lot.fees - entry_fee) if rest > EPS else None
        closed.append(Closed(replace(lot, quantity=q, fees=entry_fee), q, price, pnl, remaining))
        left -= q
    opened = Lot(side, left, price, fee * left / quantity) if left > EPS else None
    return Applied(cash_delta=-side * quantity * price - fee, closed=closed, opened=opened, fee=fee)


def position_of(lots: list[Lot]) -> tuple[float, float]:
    """(signed quantity, average entry price) of one symbol's open lots."""
    quantity = sum(lot.side * lot.quantity for lot in lots)
    size = sum(lot.quantity for lot in lots)
    return quantity, (sum(lot.quantity * lot.entry_price for lot in lots) / size if size > EPS else 0.0)
