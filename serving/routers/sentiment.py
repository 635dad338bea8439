"""Sentiment over HTTP: ingest scored items, read a symbol's items and its point-in-time
aggregate, and the aggregate across every symbol with news.

Items are scored by VADER with the finance words of features/sentiment.py at ingest, and
stored once per (source, text) however often they arrive. An aggregate as of t uses only
items published strictly before t, weighted by recency (features/sentiment.py)."""

from datetime import UTC, datetime

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request

from features.sentiment import HALF_LIFE, aggregate_at, score, scores_of
from serving.auth import require
from serving.deps import providers_of
from serving.errors import ApiError
from serving.schemas.common import AUTH, SYMBOL, Instant, errors
from serving.schemas.sentiment import CLOCK_SKEW, AllAggregates, IngestRequest, Ingested, SocialHealth, SymbolSentiment
from store.api_keys import Principal
from store.news import add_news, load_news, news_symbols
from store.types import iso

router = APIRouter(prefix="/api/sentiment", tags=["sentiment"], responses=errors(*AUTH))
AS_OF = "as of this time (default: now); ISO-8601 with a time zone, 1900-2200"


def _refusal(body: IngestRequest) -> ApiError | None:
    """What the schema cannot say: every item names a symbol, has text, and is not from the future."""
    latest = datetime.now(UTC) + CLOCK_SKEW
    for i, item in enumerate(body.items):
        where = f"items.{i}"
        if not item.symbol and not item.symbols:
            return ApiError(422, f"{where}: an item needs `symbol` or `symbols`", "no_symbol", field=f"{where}.symbol")
        if not item.text.strip():
            return ApiError(422, f"{where}.text: text is blank", "blank_text", field=f"{where}.text")
        if item.published_at > latest:
            return ApiError(422, f"{where}.published_at: published_at {item.published_at.isoformat()} is in the future",
                            "in_the_future", field=f"{where}.published_at")
    return None


@router.post("/ingest", summary="Store and score user-supplied items; the same source and text again is stored once",
             response_model=Ingested)
def ingest(request: Request, body: IngestRequest, _: Principal | None = Depends(require("trade"))) -> dict:
    """422 `no_symbol`, `blank_text`, `in_the_future`: an item names no symbol, has only blanks, or is
    published more than 5 minutes ahead of the service's clock. A refused batch stores nothing."""
    refused = _refusal(body)
    if refused is not None:
        raise refused
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


@router.get("/aggregate", summary="Point-in-time sentiment of every symbol with news", response_model=AllAggregates)
def aggregate(request: Request, at: Instant | None = Query(None, description=AS_OF),
              _: Principal | None = Depends(require("read"))) -> dict:
    when = _as_of(at)
    engine = request.app.state.engine
    rows = [{"symbol": s, **_aggregate(load_news(engine, s, until=when.to_pydatetime()), when)} for s in news_symbols(engine)]
    rows.sort(key=lambda r: (r["score"] is None, -(r["score"] or 0.0)))
    return {"as_of": iso(when), "half_life": HALF_LIFE, "symbols": rows}


SOCIAL = ("x", "reddit")


@router.get("/twitter-health", summary="Social providers (X, Reddit): configured, breaker state, last error and latency",
            response_model=SocialHealth)
def social_health(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    settings = request.app.state.settings
    configured = {"x": bool(settings.x_bearer_token), "reddit": bool(settings.reddit_client_id and settings.reddit_client_secret)}
    seen = {row["provider"]: row for row in providers_of(request)}
    rows = [(seen.get(name) or {"provider": name, "state": "unknown", "calls": 0, "failures": 0, "last_error": None, "last_error_at": None,
                                "last_success_at": None, "latency_ms": None, "updated_at": None}) | {"configured": configured[name]}
            for name in SOCIAL]
    return {"providers": rows, "note": "as the last news ingestion recorded them (the news asset, schedule news_ingest); "
                                       "set TX_X_BEARER_TOKEN and TX_REDDIT_CLIENT_ID / TX_REDDIT_CLIENT_SECRET to enable them"}


@router.get("/{symbol}", summary="A symbol's recent scored items and its point-in-time aggregate", response_model=SymbolSentiment,
            response_model_exclude_unset=True)
def symbol_sentiment(request: Request, symbol: str = Path(pattern=SYMBOL), limit: int = Query(50, ge=1, le=1_000),
                     at: Instant | None = Query(None, description=AS_OF),
                     _: Principal | None = Depends(require("read"))) -> dict:
    when = _as_of(at)
    news = load_news(request.app.state.engine, symbol, until=when.to_pydatetime())
    scored = scores_of(news)
    recent = news.assign(score=scored["score"].to_numpy() if scored is not None else []).tail(limit).iloc[::-1]
    return {"symbol": symbol.upper(), "as_of": iso(when), "half_life": HALF_LIFE, "aggregate": _aggregate(news, when),
            "items": [{"published_at": iso(r.published_at), "source": r.source, "title": r.title, "text": r.text,
                       "score": round(float(r.score), 4)} for r in recent.itertuples()],
            **({} if len(news) else {"note": f"no news stored for {symbol.upper()}: POST items to /api/sentiment/ingest"})}
