"""News items: de-duplicated inserts and point-in-time reads by symbol.

The same story arrives again on every poll and often from several feeds' mirrors, so an
item is identified by its content, not by its feed id: sha256 of the source and the
normalized text (stripped, whitespace collapsed, lowercased).
"""

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from store.db import transaction
from store.models import NewsItem, NewsSymbol
from store.types import utcnow

NEWS_COLUMNS = ["published_at", "source", "title", "text", "sentiment"]


def content_hash(source: str, text: str) -> str:
    """The de-duplication key: the same text from the same source is the same item."""
    normalized = " ".join(text.split()).lower()
    return hashlib.sha256(f"{source}\n{normalized}".encode()).hexdigest()


def _row(item: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    published = item["published_at"]
    if isinstance(published, pd.Timestamp):
        published = published.to_pydatetime()
    if published.tzinfo is None:
        raise ValueError(f"naive published_at {published!r}: must be tz-aware")
    sentiment = item.get("sentiment")
    return {
        "source": item["source"], "external_id": item.get("external_id"), "content_hash": content_hash(item["source"], item["text"]),
        "published_at": published, "title": item.get("title"), "text": item["text"], "url": item.get("url"),
        "sentiment": None if sentiment is None or pd.isna(sentiment) else float(sentiment), "created_at": now,
    }


def add_news(engine: Engine, items: Iterable[Mapping[str, Any]]) -> int:
    """Store the items not stored yet (also the first of duplicates within `items`), with
    their upper-cased symbols, in one transaction; returns how many were new.

    INSERT ... ON CONFLICT (content_hash) DO NOTHING RETURNING id: a concurrent writer of
    the same item cannot make this fail, and only the rows really inserted get symbols."""
    now = utcnow()
    rows: dict[str, dict[str, Any]] = {}
    symbols: dict[str, set[str]] = {}
    for item in items:
        row = _row(item, now)
        if row["content_hash"] in rows:
            continue
        rows[row["content_hash"]] = row
        symbols[row["content_hash"]] = {s.strip().upper() for s in item.get("symbols") or () if s and s.strip()}
    if not rows:
        return 0
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(NewsItem).on_conflict_do_nothing(index_elements=["content_hash"])
    with transaction(engine) as session:
        inserted = session.execute(stmt.returning(NewsItem.id, NewsItem.content_hash), list(rows.values())).all()
        links = [{"news_id": news_id, "symbol": s} for news_id, key in inserted for s in sorted(symbols[key])]
        if links:
            session.execute(insert(NewsSymbol), links)
    return len(inserted)


def load_news(engine: Engine, symbol: str, until: datetime | None = None) -> pd.DataFrame:
    """The items naming `symbol`, oldest first; `until` is inclusive, so a read at t sees nothing after t."""
    cols = [NewsItem.published_at, NewsItem.source, NewsItem.title, NewsItem.text, NewsItem.sentiment]
    query = (
        select(*cols).join(NewsSymbol, NewsSymbol.news_id == NewsItem.id)
        .where(NewsSymbol.symbol == symbol.strip().upper()).order_by(NewsItem.published_at, NewsItem.id)
    )
    if until is not None:
        query = query.where(NewsItem.published_at <= until)
    with transaction(engine) as session:
        rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=NEWS_COLUMNS)
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    frame["sentiment"] = frame["sentiment"].astype("float64")
    return frame


def news_symbols(engine: Engine) -> list[str]:
    """Every symbol some stored item names."""
    with transaction(engine) as session:
        return list(session.execute(select(NewsSymbol.symbol).distinct().order_by(NewsSymbol.symbol)).scalars())


def latest_published(engine: Engine) -> dict[str, datetime]:
    """The newest publication time of each symbol's stored items."""
    query = (select(NewsSymbol.symbol, func.max(NewsItem.published_at)).join(NewsItem, NewsSymbol.news_id == NewsItem.id)
             .group_by(NewsSymbol.symbol))
    with transaction(engine) as session:
        return {symbol: pd.Timestamp(at).tz_localize("UTC").to_pydatetime() if pd.Timestamp(at).tzinfo is None else at
                for symbol, at in session.execute(query).all()}
