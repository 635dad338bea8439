"""The paper ledger's tables: one account locked per unit of work, its orders, lots
(paper_trades), positions and the events they raise (store/events.py).

Concurrency: every change to an account starts with `UPDATE paper_accounts SET cash = cash`
on its row. On PostgreSQL that takes the row lock; on SQLite it takes the database's write
lock before anything is read (a deferred transaction that reads first would fail with
SQLITE_BUSY when another writer commits in between). Either way the executes of one
account run one after the other, each on the state the previous one committed.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.candles import last_price_query
from store.db import transaction
from store.events import add_event
from store.models import PaperAccount, PaperOrder, PaperTrade, Position
from store.types import utcnow

TRADE_COLUMNS = ["id", "order_id", "exit_order_id", "symbol", "side", "quantity", "entry_price", "fees", "status", "exit_price", "realized_pnl",
                 "model_version", "layer_contributions", "opened_at", "closed_at"]


def ensure_account(engine: Engine, name: str, cash: float) -> None:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(PaperAccount).values(name=name, cash=cash, initial_cash=cash, created_at=utcnow())
    with transaction(engine) as session:
        session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))


class Book:
    """One account's ledger inside a locked transaction."""

    def __init__(self, session: Session, account: PaperAccount) -> None:
        self.session, self.account = session, account

    def order_by_key(self, key: str) -> PaperOrder | None:
        return self.session.execute(select(PaperOrder).where(PaperOrder.idempotency_key == key)).scalar_one_or_none()

    def open_lots(self, symbol: str) -> list[PaperTrade]:
        """Open lots of `symbol`, oldest first (FIFO)."""
        query = (select(PaperTrade).where(PaperTrade.account_id == self.account.id, PaperTrade.symbol == symbol,
                                          PaperTrade.status == "open").order_by(PaperTrade.opened_at, PaperTrade.id))
        return list(self.session.execute(query).scalars())

    def resting(self, symbol: str) -> list[PaperOrder]:
        """Unfilled limit orders of `symbol`, oldest first."""
        query = (select(PaperOrder).where(PaperOrder.account_id == self.account.id, PaperOrder.symbol == symbol,
                                          PaperOrder.status == "pending").order_by(PaperOrder.created_at, PaperOrder.id))
        return list(self.session.execute(query).scalars())

    def trade(self, trade_id: int) -> PaperTrade | None:
        trade = self.session.get(PaperTrade, trade_id)
        return trade if trade is not None and trade.account_id == self.account.id else None

    def last_price(self, symbol: str) -> float:
        """The last stored close, read in this transaction (a second connection while holding
        the lock could wait forever on a pool that the waiting executes hold)."""
        row = self.session.execute(last_price_query(symbol)).first()
        if row is None:
            raise LookupError(f"no stored candles for {symbol}: nothing to price it with")
        return float(row[0])

    def positions(self) -> dict[str, float]:
        rows = self.session.execute(select(Position.symbol, Position.quantity).where(Position.account_id == self.account.id)).all()
        return {s: q for s, q in rows if q}

    def add(self, row: Any) -> Any:
        self.session.add(row)
        self.session.flush()  # ids now, for the response and the events
        return row

    def set_position(self, symbol: str, quantity: float, avg_price: float, realized: float) -> None:
        row = self.session.get(Position, (self.account.id, symbol))
        if row is None:
            row = self.add(Position(account_id=self.account.id, symbol=symbol, quantity=0.0, avg_price=0.0, realized_pnl=0.0))
        row.quantity, row.avg_price, row.realized_pnl, row.updated_at = quantity, avg_price, row.realized_pnl + realized, utcnow()

    def event(self, kind: str, symbol: str, payload: dict) -> None:
        add_event(self.session, kind, symbol, payload)


@contextmanager
def locked_account(engine: Engine, name: str, cash: float) -> Iterator[Book]:
    """The account `name` (created with `cash` the first time), locked until the block ends;
    everything in the block commits together or not at all."""
    ensure_account(engine, name, cash)
    with transaction(engine) as session:
        session.execute(update(PaperAccount).where(PaperAccount.name == name).values(cash=PaperAccount.cash))  # the lock
        account = session.execute(select(PaperAccount).where(PaperAccount.name == name)).scalar_one()
        yield Book(session, account)


def trades_frame(engine: Engine, account: str, status: str | None = None, symbol: str | None = None,
                 trade_id: int | None = None) -> pd.DataFrame:
    query = select(*(getattr(PaperTrade, c) for c in TRADE_COLUMNS)).join(PaperAccount).where(PaperAccount.name == account)
    if trade_id is not None:
        query = query.where(PaperTrade.id == trade_id)
    if status is not None:
        query = query.where(PaperTrade.status == status)
    if symbol is not None:
        query = query.where(PaperTrade.symbol == symbol)
    with transaction(engine) as session:
        frame = pd.DataFrame(session.execute(query.order_by(PaperTrade.id)).all(), columns=TRADE_COLUMNS)
    frame["exit_order_id"] = frame["exit_order_id"].astype("Int64")
    for col in ("opened_at", "closed_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def account_state(engine: Engine, account: str) -> tuple[float, float, dict[str, tuple[float, float]]] | None:
    """(cash, initial cash, {symbol: (quantity, avg price)}) or None before the first order."""
    with transaction(engine) as session:
        row = session.execute(select(PaperAccount).where(PaperAccount.name == account)).scalar_one_or_none()
        if row is None:
            return None
        positions = session.execute(select(Position.symbol, Position.quantity, Position.avg_price)
                                    .where(Position.account_id == row.id, Position.quantity != 0)).all()
        return row.cash, row.initial_cash or row.cash, {s: (q, p) for s, q, p in positions}


def fills_frame(engine: Engine, account: str) -> pd.DataFrame:
    """Every fill of the account in time order: time, symbol, side (+1 buy / -1 sell), quantity, price, fee."""
    query = (select(PaperOrder.filled_at, PaperOrder.symbol, PaperOrder.side, PaperOrder.quantity, PaperOrder.fill_price,
                    PaperOrder.fees).join(PaperAccount).where(PaperAccount.name == account, PaperOrder.status == "filled")
             .order_by(PaperOrder.filled_at, PaperOrder.id))
    with transaction(engine) as session:
        frame = pd.DataFrame(session.execute(query).all(), columns=["time", "symbol", "side", "quantity", "price", "fee"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    frame["side"] = frame["side"].map({"buy": 1, "sell": -1}).astype(float)
    return frame
