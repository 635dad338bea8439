"""Dagster resources: thin handles on the domain packages, configured from settings."""

from dataclasses import replace
from functools import cached_property
from pathlib import Path

import dagster as dg
from sqlalchemy import Engine

from market.chain import MarketConfig, ProviderChain
from market.news import NewsSource, build_sources
from store.db import make_engine
from tx.settings import load_settings


class AppDatabase(dg.ConfigurableResource):
    """The app database (candles, detections, predictions, ...)."""

    url: str

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.url)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if "engine" in self.__dict__:  # only if a step used it
            self.engine.dispose()


class MarketData(dg.ConfigurableResource):
    """The candle providers in fallback order, and the tolerances of the candle checks.

    API keys, retries, breaker and cache settings come from the environment (TX_*).
    """

    providers: str = "bundled,local"
    data_dir: str | None = None
    overlap_bars: int = 3
    max_gap_bars: int = 3
    stale_bars: int = 3

    @cached_property
    def chain(self) -> ProviderChain:
        config = replace(
            load_settings().market_config(),
            providers=tuple(self.providers.split(",")),
            data_dir=Path(self.data_dir) if self.data_dir else None,
        )
        return ProviderChain.from_config(config)


class MlflowTracking(dg.ConfigurableResource):
    """Where training logs and registers (MLflow tracking + registry), and the gate's threshold."""

    tracking_uri: str
    artifact_root: str
    threshold: float = 0.6
    ui_url: str = "http://127.0.0.1:5000"

    def run_url(self, experiment_id: str, run_id: str) -> str:
        return f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}"

    def model_url(self, name: str, version: str) -> str:
        return f"{self.ui_url}/#/models/{name}/versions/{version}"


class NewsFeeds(dg.ConfigurableResource):
    """The news and social sources (keys, addresses, retries and breakers from the
    environment, TX_*) and the folder of your own news files (`<data_dir>/news`)."""

    data_dir: str | None = None
    lookback_days: float = 7.0

    def sources(self) -> list[NewsSource]:
        return build_sources(load_settings().news_config())

    def guard_config(self) -> MarketConfig:
        return load_settings().market_config()

    def folder(self) -> Path | None:
        path = Path(self.data_dir) / "news" if self.data_dir else None
        return path if path is not None and path.is_dir() else None
