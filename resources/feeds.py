"""Dagster resources on the outside world: candle providers and news sources.

Plain values built once from the settings when the definitions are built
(pipelines/definitions.py) and handed to assets as `dg.ResourceParam`s: they carry API
keys, which as fields of a configurable resource would be shown in the Dagster UI.
"""

from dataclasses import dataclass
from pathlib import Path

from market.chain import MarketConfig, ProviderChain
from market.news import NewsConfig, NewsSource, build_sources


@dataclass(frozen=True)
class MarketData:
    """The candle providers in fallback order with their keys, retries, breaker and cache
    (`config`), and the tolerances of the candle checks."""

    config: MarketConfig
    overlap_bars: int = 3
    max_gap_bars: int = 3
    stale_bars: int = 3

    @property
    def chain(self) -> ProviderChain:
        """A fresh chain (its cache and breakers) for the step that asks."""
        return ProviderChain.from_config(self.config)


@dataclass(frozen=True)
class NewsFeeds:
    """The news and social sources (`config`: keys, addresses, timeout), the retries and
    breaker around each (`guard`), and the folder of your own news files (`<data_dir>/news`)."""

    config: NewsConfig
    guard: MarketConfig
    data_dir: Path | None = None
    lookback_days: float = 7.0

    def sources(self) -> list[NewsSource]:
        return build_sources(self.config)

    def guard_config(self) -> MarketConfig:
        return self.guard

    def folder(self) -> Path | None:
        path = Path(self.data_dir) / "news" if self.data_dir else None
        return path if path is not None and path.is_dir() else None
