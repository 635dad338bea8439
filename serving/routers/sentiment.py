"""Sentiment over HTTP: ingest scored items, read a symbol's items and its point-in-time
aggregate, and the aggregate across every symbol with news.

Items are scored by VADER with the finance words of features/sentiment.py at ingest, and
stored once per (source, text) however often they arrive. An aggregate as of t uses only
items published strictly before t, weighted by recency (features/sentiment.py)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from features.sentiment import HALF_LIFE, aggregate_at, score, scores_of
from market.news import MAX_TEXT
from serving.auth import require
from serving.routers.health import providers_of
from serving.routers.ml import SYMBOL
from store.api_keys import Principal
from store.news import add_news, load_news, news_symbols
from store.types import iso

router = APIRouter(prefix="/api/sentiment", tags=["sentiment"])

CLOCK_SKEW = timedelta(minutes=5)  # items "published" later than this in the future are refused


class NewsItemIn(BaseModel):
    symbol: str | None = Field(None, pattern=SYMBOL, description="the symbol the item is about (or `symbols`)")
    symbols: list[Annotated[str, Field(pattern=SYMBOL)]] | None = Field(None, max_length=20)
    published_at: AwareDatetime
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    source: str = Field("user", pattern=r"^[A-Za-z0-9._-]{1,32}$", description="where it came from (de-duplication is per source and text)")
    title: str | None = Field(None, max_length=1_000)
    url: str | None = Field(None, max_length=2_000)

    @model_validator(mode="after")
    def _complete(self) -> "NewsItemIn":
        if not self.symbol and not self.symbols:
            raise ValueError("an item needs `symbol` or `symbols`")
        if not self.text.strip():
            raise ValueError("text is blank")
        if self.published_at > datetime.now(UTC) + CLOCK_SKEW:
            raise ValueError(f"published_at {self.published_at.isoformat()} is in the future")
        return self

    def all_symbols(self) -> list[str]:
        return sorted({s.upper() for s in [self.symbol, *(self.symbols or [])] if s})


class IngestRequest(BaseModel):
    items: list[NewsItemIn] = Field(min_length=1, max_length=1_000)


@router.post("/ingest", summary="Store and score user-supplied items; the same source and text again is stored once")
def ingest(request: Request, body: IngestRequest, _: Principal | None = Depends(require("trade"))) -> dict:
    scores = score(item.text for item in body.items)
    rows = [{"source": item.source, "published_at": item.published_at, "text": item.text.strip(), "title": item.title,
             "url": item.url, "symbols": item.all_symbols(), "sentiment": float(s)} for item, s in zip(body.items, scores, strict=True)]
    stored = add_news(request.app.state.engine, rows)
    return {"received": len(rows), "stored": stored, "duplicates": len(rows) - stored,
            "items": [{"symbols": r["symbols"], "published_at": iso(r["published_at"]), "source": r["source"],
                       "score": round(r["sentiment"], 4)} for r in rows],
            "scoring": "VADER compound in [-1, 1] with the finance words of docs/SENTIMENT.md (English; other languages score near 0)"}


def _as_of(at: datetime | None) -> pd.Timestamp:
    return pd.Timestamp(at or datetime.now(UTC)).tz_convert("UTC")


def _aggregate(news: pd.DataFrame, at: pd.Timestamp) -> dict:
    figures = aggregate_at(scores_of(news), at)
    return {"score": None if pd.isna(figures["sent_score"]) else round(figures["sent_score"], 4),
            "weight": round(figures["sent_weight"], 4), "items_7d": int(figures["sent_items_7d"])}


@router.get("/aggregate", summary="Point-in-time sentiment of every symbol with news")
def aggregate(request: Request, at: AwareDatetime | None = Query(None, description="as of this time (default: now)"),
              _: Principal | None = Depends(require("read"))) -> dict:
    when = _as_of(at)
    engine = request.app.state.engine
    rows = [{"symbol": s, **_aggregate(load_news(engine, s, until=when.to_pydatetime()), when)} for s in news_symbols(engine)]
    rows.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0.0)))
    return {"as_of": iso(when), "half_life": HALF_LIFE, "symbols": rows}


SOCIAL = ("x", "reddit")


@router.get("/twitter-health", summary="Social providers (X, Reddit): configured, breaker state, last error and latency")
def social_health(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    settings = request.app.state.settings
    configured = {"x": bool(settings.x_bearer_token), "reddit": bool(settings.reddit_client_id and settings.reddit_client_secret)}
    seen = {row["provider"]: row for row in providers_of(request)}
    rows = [(seen.get(name) or {"provider": name, "state": "unknown", "calls": 0, "failures": 0, "last_error": None, "last_error_at": None,
                                "last_success_at": None, "latency_ms": None, "updated_at": None}) | {"configured": configured[name]}
            for name in SOCIAL]
    return {"providers": rows, "note": "as the last news ingestion recorded them (the news asset, schedule news_ingest); "
                                       "set TX_X_BEARER_TOKEN and TX_REDDIT_CLIENT_ID / TX_REDDIT_CLIENT_SECRET to enable them"}


@router.get("/{symbol}", summary="A symbol's recent scored items and its point-in-time aggregate")
def symbol_sentiment(request: Request, symbol: str = Path(pattern=SYMBOL), limit: int = Query(50, ge=1, le=1_000),
                     at: AwareDatetime | None = Query(None, description="as of this time (default: now)"),
                     _: Principal | None = Depends(require("read"))) -> dict:
    when = _as_of(at)
    news = load_news(request.app.state.engine, symbol, until=when.to_pydatetime())
    scored = scores_of(news)
    recent = news.assign(score=scored["score"].to_numpy() if scored is not None else []).tail(limit).iloc[::-1]
    return {"symbol": symbol.upper(), "as_of": iso(when), "half_life": HALF_LIFE, "aggregate": _aggregate(news, when),
            "items": [{"published_at": iso(r.published_at), "source": r.source, "title": r.title, "text": r.text,
                       "score": round(float(r.score), 4)} for r in recent.itertuples()],
            **({} if len(news) else {"note": f"no news stored for {symbol.upper()}: POST items to /api/sentiment/ingest"})}
