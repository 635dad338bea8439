"""Sentiment's request and answer models (serving/routers/sentiment.py).

What JSON Schema cannot say is checked by the route, 422 with its own code: an item names no
symbol (`no_symbol`), its text is only blanks (`blank_text`), or it is published in the future
(`in_the_future`, more than CLOCK_SKEW ahead of the service's clock)."""

from datetime import timedelta

from pydantic import ConfigDict, Field

from market.news import MAX_TEXT
from serving.schemas.common import Answer, Body, Instant, Stamp, Symbol

CLOCK_SKEW = timedelta(minutes=5)  # items "published" later than this in the future are refused
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
SOME_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"  # the spec's: no NUL, not only blanks (the route says `blank_text`)


class NewsItemIn(Body):
    """A news item about `symbol` or `symbols` (one of them is needed)."""

    # the rules the route enforces (422 `no_symbol`, `blank_text`), said in the schema too
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"properties": {"symbol": {"type": "string"}}, "required": ["symbol"]},
        {"properties": {"symbols": {"type": "array", "minItems": 1}}, "required": ["symbols"]},
    ], "examples": [{"symbol": "GOOGL", "published_at": "2018-08-28T14:00:00Z", "text": "Shares rally as earnings beat estimates",
                     "source": "wire"}]})

    symbol: Symbol | None = Field(None, description="the symbol the item is about (or `symbols`; one of them is needed)")
    symbols: list[Symbol] | None = Field(None, max_length=20, description="the symbols the item is about")
    published_at: Instant
    text: str = Field(min_length=1, max_length=MAX_TEXT, pattern=NO_NUL, description="the item's text (not only blanks), scored at ingest",
                      json_schema_extra={"pattern": SOME_TEXT})
    source: str = Field("user", pattern=r"^[A-Za-z0-9._-]{1,32}$", description="where it came from (de-duplication is per source and text)")
    title: str | None = Field(None, max_length=1_000, pattern=NO_NUL)
    url: str | None = Field(None, max_length=2_000, pattern=NO_NUL)

    def all_symbols(self) -> list[str]:
        return sorted({s.upper() for s in [self.symbol, *(self.symbols or [])] if s})


class IngestRequest(Body):
    items: list[NewsItemIn] = Field(min_length=1, max_length=1_000)


class IngestedItem(Answer):
    symbols: list[str]
    published_at: Stamp
    source: str
    score: float = Field(description="VADER compound in [-1, 1]")


class Ingested(Answer):
    received: int
    stored: int = Field(description="new items; the others were stored before (same source and text)")
    duplicates: int
    items: list[IngestedItem]
    scoring: str


class Aggregate(Answer):
    score: float | None = Field(None, description="recency-weighted mean score of the items before `as_of`; null without any")
    weight: float | None = None
    items_7d: int


class SymbolAggregate(Aggregate):
    symbol: str


class AllAggregates(Answer):
    as_of: Stamp
    half_life: str
    symbols: list[SymbolAggregate]


class ScoredItem(Answer):
    published_at: Stamp | None = None
    source: str
    title: str | None = None
    text: str
    score: float | None = None


class SymbolSentiment(Answer):
    symbol: str
    as_of: Stamp
    half_life: str
    aggregate: Aggregate
    items: list[ScoredItem]
    note: str | None = None


class SocialProvider(Answer):
    provider: str
    configured: bool
    state: str
    calls: int
    failures: int
    last_error: str | None = None
    last_error_at: Stamp | None = None
    last_success_at: Stamp | None = None
    latency_ms: float | None = None
    updated_at: Stamp | None = None


class SocialHealth(Answer):
    providers: list[SocialProvider]
    note: str
