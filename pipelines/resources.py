"""Dagster resources: thin handles on the domain packages, configured from settings."""

from functools import cached_property
from pathlib import Path

import dagster as dg
from sqlalchemy import Engine

from market.sources import Sources
from store.db import make_engine


class AppDatabase(dg.ConfigurableResource):
    """The app database (candles, detections, predictions, ...)."""

    url: str

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.url)


class MarketData(dg.ConfigurableResource):
    """The candle providers: the user's folder when given, then the bundled sample."""

    data_dir: str | None = None

    def sources(self) -> Sources:
        return Sources.offline(Path(self.data_dir) if self.data_dir else None)
