"""The events log: what the WebSocket feed pushes, in commit order, read by cursor (the
feed's replay) and, on PostgreSQL, announced with NOTIFY on CHANNEL.

Kinds: `bar` (a new bar stored by the scan), `pattern` (detections at new bars), `score`
(a new bar scored by the champion), `alert`, and the paper account's `fill` / `close`."""

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from store.db import transaction
from store.models import Event
from store.types import iso, utcnow

CHANNEL = "tx_events"


def add_event(session: Session, kind: str, symbol: str, payload: dict) -> int:
    """Log an event in the caller's transaction; on PostgreSQL also NOTIFY the live feed
    (delivered at commit, so listeners never see an event that was rolled back)."""
    event = Event(kind=kind, symbol=symbol, payload=payload, created_at=utcnow())
    session.add(event)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :id)"), {"channel": CHANNEL, "id": str(event.id)})
    return event.id


def publish(engine: Engine, kind: str, symbol: str, payloads: list[dict]) -> list[int]:
    """Log one event per payload, in one transaction (and order), for a step that stored its
    data in its own transaction before (the bulk candle upsert, the detections)."""
    if not payloads:
        return []
    with transaction(engine) as session:
        return [add_event(session, kind, symbol, payload) for payload in payloads]


def events_since(engine: Engine, cursor: int, symbols: set[str] | None = None, limit: int = 500) -> list[dict]:
    query = select(Event).where(Event.id > cursor).order_by(Event.id).limit(limit)
    if symbols:
        query = query.where(Event.symbol.in_(sorted(symbols)))
    with transaction(engine) as session:
        return [{"cursor": e.id, "kind": e.kind, "symbol": e.symbol, "created_at": iso(e.created_at),
                 "data": e.payload} for e in session.execute(query).scalars()]


def last_event_id(engine: Engine) -> int:
    with transaction(engine) as session:
        return int(session.execute(select(func.coalesce(func.max(Event.id), 0))).scalar_one())
