"""News and social sources: NewsAPI, Finnhub company news, Reddit search and X recent
search, each a client over httpx with its key from the settings; and news files of your own.

Every source answers `fetch(symbol, since)` with plain items; `collect` runs them behind the
same retries, circuit breakers and health as the candle providers (market/chain.py), so
a rate limit is waited out and an outage is recorded, never fatal. Scoring and storage
happen elsewhere (features/sentiment.py, store/news.py).
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Protocol

import httpx
import pandas as pd

from market.chain import Attempt, Guard, MarketConfig, ProviderHealth
from market.errors import BadPayload, NotConfigured
from market.http import get_json, request_json

USER_AGENT = "tx-platform/0.1 (news sentiment)"
MAX_TEXT = 10_000  # characters an item keeps: a headline or an article's lead, not a book


@dataclass(frozen=True)
class Item:
    source: str
    published_at: datetime
    text: str
    symbols: tuple[str, ...]
    title: str | None = None
    url: str | None = None
    external_id: str | None = None

    def as_row(self) -> dict:
        return {"source": self.source, "published_at": self.published_at, "text": self.text[:MAX_TEXT], "title": self.title,
                "url": self.url, "external_id": self.external_id, "symbols": list(self.symbols)}


class NewsSource(Protocol):
    name: str
    social: bool
    configured: bool

    def fetch(self, symbol: str, since: datetime) -> list[Item]: ...


def _time(value, provider: str) -> datetime:
    try:
        stamp = pd.Timestamp(value, unit="s", tz="UTC") if isinstance(value, int | float) else pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise BadPayload(provider, f"unreadable time {value!r}") from exc
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.tz_convert("UTC").to_pydatetime()


def _text(*parts: str | None) -> str:
    return " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())


class _Keyed:
    name: ClassVar[str]
    key_setting: ClassVar[str]
    social: ClassVar[bool] = False

    def __init__(self, api_key: str | None, base_url: str, timeout_s: float = 10.0) -> None:
        self.api_key = api_key
        self.client = httpx.Client(base_url=base_url, timeout=timeout_s, headers={"User-Agent": USER_AGENT})

    @property
    def configured(self) -> bool:
        return bool(self.api_key)

    def _key(self) -> str:
        if not self.api_key:
            raise NotConfigured(self.name, f"no API key (set {self.key_setting})")
        return self.api_key


class NewsApiSource(_Keyed):
    """https://newsapi.org/docs/endpoints/everything: articles mentioning the symbol."""

    name, key_setting = "newsapi", "TX_NEWSAPI_KEY"

    def fetch(self, symbol: str, since: datetime) -> list[Item]:
        params = {"q": symbol, "from": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "sortBy": "publishedAt",
                  "language": "en", "pageSize": 100}
        body = get_json(self.client, self.name, "/v2/everything", params, headers={"X-Api-Key": self._key()})
        if not isinstance(body, dict) or body.get("status") != "ok" or not isinstance(body.get("articles"), list):
            raise BadPayload(self.name, f"unexpected body: {str(body)[:200]}")
        items = []
        for a in body["articles"]:
            text = _text(a.get("title"), a.get("description"))
            if text and a.get("publishedAt"):
                items.append(Item(f"newsapi:{(a.get('source') or {}).get('name') or 'unknown'}"[:32], _time(a["publishedAt"], self.name),
                                  text, (symbol,), a.get("title"), a.get("url"), a.get("url")))
        return items


class FinnhubNewsSource(_Keyed):
    """https://finnhub.io/docs/api/company-news: a company's news by day."""

    name, key_setting = "finnhub-news", "TX_FINNHUB_API_KEY"

    def fetch(self, symbol: str, since: datetime) -> list[Item]:
        params = {"symbol": symbol, "from": f"{since:%Y-%m-%d}", "to": f"{datetime.now(UTC):%Y-%m-%d}", "token": self._key()}
        body = get_json(self.client, self.name, "/api/v1/company-news", params)
        if not isinstance(body, list):
            raise BadPayload(self.name, f"unexpected body: {str(body)[:200]}")
        items = []
        for a in body:
            text = _text(a.get("headline"), a.get("summary"))
            if text and a.get("datetime"):
                related = tuple(s for s in str(a.get("related") or symbol).upper().split(",") if s) or (symbol,)
                items.append(Item("finnhub", _time(a["datetime"], self.name), text, related, a.get("headline"), a.get("url"),
                                  str(a.get("id")) if a.get("id") is not None else None))
        return [i for i in items if i.published_at >= since]


class RedditSource(_Keyed):
    """Reddit search (https://www.reddit.com/dev/api/#GET_search) with an app-only OAuth token
    (client credentials), fetched once and renewed when it expires."""

    name, key_setting, social = "reddit", "TX_REDDIT_CLIENT_ID and TX_REDDIT_CLIENT_SECRET", True

    def __init__(self, client_id: str | None, client_secret: str | None, base_url: str, auth_url: str, timeout_s: float = 10.0) -> None:
        super().__init__(client_id if client_id and client_secret else None, base_url, timeout_s)
        self.secret = client_secret
        self.auth = httpx.Client(base_url=auth_url, timeout=timeout_s, headers={"User-Agent": USER_AGENT})
        self._token: tuple[str, float] | None = None

    def _bearer(self) -> str:
        now = datetime.now(UTC).timestamp()
        if self._token is None or self._token[1] <= now + 30:
            body = request_json(self.auth, self.name, "POST", "/api/v1/access_token", data={"grant_type": "client_credentials"},
                                auth=(self._key(), self.secret or ""))
            if not isinstance(body, dict) or "access_token" not in body:
                raise BadPayload(self.name, f"no access_token in {str(body)[:200]}")
            self._token = (body["access_token"], now + float(body.get("expires_in", 3600)))
        return self._token[0]

    def fetch(self, symbol: str, since: datetime) -> list[Item]:
        params = {"q": f'"{symbol}"', "sort": "new", "limit": 100, "t": "week", "type": "link"}
        body = get_json(self.client, self.name, "/search", params, headers={"Authorization": f"bearer {self._bearer()}"})
        try:
            posts = [child["data"] for child in body["data"]["children"]]
        except (KeyError, TypeError) as exc:
            raise BadPayload(self.name, f"unexpected body: {str(body)[:200]}") from exc
        items = []
        for p in posts:
            text = _text(p.get("title"), p.get("selftext"))
            if text and p.get("created_utc") is not None:
                items.append(Item("reddit", _time(float(p["created_utc"]), self.name), text, (symbol,), p.get("title"),
                                  f"https://www.reddit.com{p.get('permalink', '')}", p.get("id")))
        return [i for i in items if i.published_at >= since]


class XSource(_Keyed):
    """X (Twitter) recent search, API v2 (https://docs.x.com/x-api/posts/search-recent-posts),
    with an app bearer token; English posts that are not retweets."""

    name, key_setting, social = "x", "TX_X_BEARER_TOKEN", True

    def fetch(self, symbol: str, since: datetime) -> list[Item]:
        start = max(since, datetime.now(UTC) - pd.Timedelta(days=6, hours=23))  # recent search reaches back 7 days
        params = {"query": f"${symbol} lang:en -is:retweet", "max_results": 100, "tweet.fields": "created_at,lang",
                  "start_time": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        body = get_json(self.client, self.name, "/2/tweets/search/recent", params, headers={"Authorization": f"Bearer {self._key()}"})
        if not isinstance(body, dict) or not isinstance(body.get("data", []), list):
            raise BadPayload(self.name, f"unexpected body: {str(body)[:200]}")
        return [Item("x", _time(t["created_at"], self.name), t["text"], (symbol,), None, f"https://x.com/i/status/{t['id']}", t["id"])
                for t in body.get("data", []) if t.get("text") and t.get("created_at")]


@dataclass(frozen=True)
class NewsConfig:
    """Keys and addresses of the sources (`market` never reads settings itself)."""

    newsapi_key: str | None = None
    newsapi_url: str = "https://newsapi.org"
    finnhub_key: str | None = None
    finnhub_url: str = "https://finnhub.io"
    reddit_client_id: str | None = None
    reddit_client_secret: str | None = None
    reddit_url: str = "https://oauth.reddit.com"
    reddit_auth_url: str = "https://www.reddit.com"
    x_bearer_token: str | None = None
    x_url: str = "https://api.twitter.com"
    timeout_s: float = 10.0


def build_sources(config: NewsConfig) -> list[NewsSource]:
    """Every source, configured or not: one without its key answers "not configured"."""
    t = config.timeout_s
    return [NewsApiSource(config.newsapi_key, config.newsapi_url, t), FinnhubNewsSource(config.finnhub_key, config.finnhub_url, t),
            RedditSource(config.reddit_client_id, config.reddit_client_secret, config.reddit_url, config.reddit_auth_url, t),
            XSource(config.x_bearer_token, config.x_url, t)]


@dataclass
class Collected:
    items: list[Item] = field(default_factory=list)
    attempts: list[tuple[str, Attempt]] = field(default_factory=list)  # (symbol, attempt)
    health: list[ProviderHealth] = field(default_factory=list)


def collect(sources: list[NewsSource], since: dict[str, datetime], market: MarketConfig = MarketConfig()) -> Collected:
    """Items of every symbol in `since` (symbol -> fetch items from then on) from every
    configured source, each behind its guard; a failing source is recorded and the others
    go on. A source without its key is named once, as not configured."""
    out = Collected()
    for source in sources:
        if not source.configured:
            out.attempts.append(("*", Attempt(source.name, "not configured", f"set {source.key_setting}")))
            continue
        guard = Guard(source.name, market)
        for symbol, start in since.items():
            attempt, items = guard.run(source.fetch, symbol, start)
            if items is not None:
                attempt.detail = f"{len(items)} item(s)"
                out.items += items
            out.attempts.append((symbol, attempt))
        out.health.append(guard.current())
    return out


# -- your own files ----------------------------------------------------------------------

FILE_COLUMNS = ("symbol", "published_at", "text")


def read_news_files(folder: Path) -> tuple[list[Item], list[str]]:
    """Items of `folder/*.csv` and `*.jsonl` (symbol — or several, comma-separated —
    published_at with a time zone, text; optional source, title, url), and one line per row
    refused, saying why: nothing is dropped without a word."""
    items, refused = [], []
    for path in sorted([*folder.glob("*.csv"), *folder.glob("*.jsonl")]):
        try:
            frame = pd.read_csv(path, dtype=str) if path.suffix == ".csv" else pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()])
        except (ValueError, OSError) as exc:
            refused.append(f"{path.name}: unreadable ({type(exc).__name__}: {exc})")
            continue
        missing = [c for c in FILE_COLUMNS if c not in frame.columns]
        if missing:
            refused.append(f"{path.name}: missing column(s) {missing}; needs {list(FILE_COLUMNS)}")
            continue
        for n, row in enumerate(frame.to_dict(orient="records"), start=2 if path.suffix == ".csv" else 1):
            where = f"{path.name}:{n}"
            symbols = tuple(s.strip().upper() for s in str(row.get("symbol") or "").split(",") if s.strip() and s.strip() != "nan")
            text = str(row.get("text") or "").strip()
            if not symbols or not text or text == "nan":
                refused.append(f"{where}: no symbol or no text")
                continue
            try:
                stamp = pd.Timestamp(row["published_at"])
            except (ValueError, TypeError):
                refused.append(f"{where}: unreadable published_at {row['published_at']!r}")
                continue
            if pd.isna(stamp) or stamp.tzinfo is None:
                refused.append(f"{where}: published_at {row['published_at']!r} has no time zone")
                continue
            published = stamp.tz_convert("UTC").to_pydatetime()
            source = str(row.get("source") or "file").strip()[:32] or "file"
            items.append(Item(source if source != "nan" else "file", published, text[:MAX_TEXT], symbols,
                              row.get("title") if isinstance(row.get("title"), str) else None,
                              row.get("url") if isinstance(row.get("url"), str) else None))
    return items, refused
