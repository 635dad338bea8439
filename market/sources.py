"""Where candles come from: an ordered list of providers, first one holding a series wins.

Offline, that is the user's folder (TX_DATA_DIR) when set, then the bundled sample.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from market.files import FileProvider, bundled
from market.universe import Series, resolve_universe


@dataclass(frozen=True)
class Fetched:
    series: Series
    provider: str
    candles: pd.DataFrame


class Sources:
    def __init__(self, providers: list[FileProvider]) -> None:
        self.providers = providers

    @classmethod
    def offline(cls, data_dir: Path | None = None) -> "Sources":
        local = [FileProvider(data_dir, "local")] if data_dir is not None else []
        return cls([*local, bundled()])

    def available(self) -> list[Series]:
        return sorted({s for p in self.providers for s in p.available()})

    def universe(self, text: str | None) -> list[Series]:
        return resolve_universe(text, self.available())

    def fetch(self, series: Series) -> Fetched:
        for provider in self.providers:
            if series in provider.available():
                return Fetched(series, provider.name, provider.fetch(series))
        raise KeyError(f"no provider has {series}")
