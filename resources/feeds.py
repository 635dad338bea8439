"""Dagster resources on the outside world: candle providers and news sources.

Their fields are the values of `market.chain.MarketConfig` and `market.news.NewsConfig`,
given once when the definitions are built (pipelines/definitions.py); nothing here reads
settings.
"""

from dataclasses import asdict, fields
from functools import cached_property
from pathlib import Path

import dagster as dg

from market.chain import MarketConfig, ProviderChain
from market.news import NewsConfig, NewsSource, build_sources


class MarketData(dg.ConfigurableResource):
    """The candle providers in fallback order with their keys, retries, breaker and cache
    (MarketConfig's fields), and the tolerances of the candle checks."""

    providers: str = "bundled,local"
    data_dir: str | None = None
    polygon_api_key: str | None = None
    finnhub_api_key: str | None = None
    polygon_url: str = "https://api.polygon.io"
    finnhub_url: str = "https://finnhub.io"
    timeout_s: float = 10.0
    cache_ttl_s: float = 60.0
    retries: int = 3
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    fail_max: int = 5
    reset_timeout_s: float = 60.0
    synthetic_bars: int = 2500
    synthetic_seed: int = 0
    synthetic_signal: float = 0.0
    overlap_bars: int = 3
    max_gap_bars: int = 3
    stale_bars: int = 3

    @classmethod
    def of(cls, config: MarketConfig, **checks: int) -> "MarketData":
        """The resource with `config`'s values and the candle checks' tolerances."""
        return cls(**asdict(config) | {"providers": ",".join(config.providers), "data_dir": _text(config.data_dir)}, **checks)

    def config(self) -> MarketConfig:
        values = {f.name: getattr(self, f.name) for f in fields(MarketConfig)}
        return MarketConfig(**values | {"providers": tuple(self.providers.split(",")), "data_dir": _path(self.data_dir)})

    @cached_property
    def chain(self) -> ProviderChain:
        return ProviderChain.from_config(self.config())


class NewsFeeds(dg.ConfigurableResource):
    """The news and social sources (NewsConfig's fields: keys, addresses, timeout), the retries
    and breaker around each, and the folder of your own news files (`<data_dir>/news`)."""

    data_dir: str | None = None
    lookback_days: float = 7.0
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
    retries: int = 3
    fail_max: int = 5
    reset_timeout_s: float = 60.0

    @classmethod
    def of(cls, news: NewsConfig, guard: MarketConfig, **values) -> "NewsFeeds":
        """The resource with the sources of `news`, guarded as `guard` says (retries, breaker)."""
        return cls(**asdict(news), retries=guard.retries, fail_max=guard.fail_max, reset_timeout_s=guard.reset_timeout_s, **values)

    def sources(self) -> list[NewsSource]:
        return build_sources(NewsConfig(**{f.name: getattr(self, f.name) for f in fields(NewsConfig)}))

    def guard_config(self) -> MarketConfig:
        return MarketConfig(retries=self.retries, fail_max=self.fail_max, reset_timeout_s=self.reset_timeout_s)

    def folder(self) -> Path | None:
        path = Path(self.data_dir) / "news" if self.data_dir else None
        return path if path is not None and path.is_dir() else None


def _text(path: Path | None) -> str | None:
    return str(path) if path else None


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None
