"""Candles from files: the bundled real sample and the user's own folder (TX_DATA_DIR).

A folder holds `{SYMBOL}_{TIMEFRAME}.csv`, `.csv.gz` or `.parquet` files in the
layout `timestamp,open,high,low,close,volume` (UTC ISO-8601 timestamps).
"""

import re
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import pandas as pd

from market.errors import BadPayload, NoData
from market.frames import CandleFormatError, conform
from market.providers import between
from market.universe import SYMBOL_CHARS, TIMEFRAMES, Series

BUNDLED_DIR = Path(__file__).parent / "data"
_SUFFIXES = (".csv.gz", ".csv", ".parquet")
_NAME = re.compile(rf"^(?P<symbol>[{SYMBOL_CHARS}]+)_(?P<timeframe>[0-9]+[mhdw])$")


class DataFolderError(ValueError):
    """A data folder that is missing, or holds a file whose name says nothing usable."""


class FileProvider:
    """Series from one folder; `name` is what stored candles record as their provider."""

    live = False

    def __init__(self, root: Path, name: str) -> None:
        self.root = Path(root)
        self.name = name
        if not self.root.is_dir():
            raise DataFolderError(f"folder {self.root} does not exist")
        self._files = self._scan()

    def _scan(self) -> dict[Series, Path]:
        files: dict[Series, Path] = {}
        for path in sorted(self.root.iterdir()):
            suffix = next((s for s in _SUFFIXES if path.name.endswith(s)), None)
            if suffix is None or not path.is_file():
                continue  # READMEs, licences, sub-folders
            match = _NAME.match(path.name[: -len(suffix)])
            if not match or match["timeframe"] not in TIMEFRAMES:
                raise DataFolderError(
                    f"{path}: file name must be SYMBOL_TIMEFRAME{suffix} with a timeframe in {', '.join(TIMEFRAMES)}"
                )
            series = Series(match["symbol"].upper(), match["timeframe"])
            if series in files:
                raise DataFolderError(f"{path} and {files[series]} both hold {series}")
            files[series] = path
        return files

    def supports(self, timeframe: str) -> bool:
        return any(s.timeframe == timeframe for s in self._files)

    def listing(self) -> list[Series]:
        return sorted(self._files)

    def path(self, series: Series) -> Path | None:
        return self._files.get(series)

    def read(self, series: Series) -> pd.DataFrame:
        """The whole file in the normal form's shape; CandleFormatError names the file."""
        path = self._files.get(series)
        if path is None:
            raise NoData(self.name, f"no file for {series} in {self.root}")
        return _read(path, path.stat().st_mtime_ns)

    def fetch(self, symbol: str, timeframe: str, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        try:
            return between(self.read(Series(symbol, timeframe)), start, end)
        except CandleFormatError as exc:
            raise BadPayload(self.name, str(exc)) from exc


@lru_cache(maxsize=64)
def _read(path: Path, _mtime_ns: int) -> pd.DataFrame:
    """Parsed once per file version (the modification time is part of the key)."""
    try:
        raw = pd.read_parquet(path) if path.name.endswith(".parquet") else pd.read_csv(path, float_precision="round_trip")
    except Exception as exc:  # unreadable file: gzip, parquet or CSV errors alike
        raise CandleFormatError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from exc
    return conform(raw, source=str(path))


def bundled() -> FileProvider:
    return FileProvider(BUNDLED_DIR, "bundled")


def bundled_candles() -> Iterator[pd.DataFrame]:
    """The candles of every bundled series: the sample the pattern catalogue describes."""
    source = bundled()
    return (source.read(series) for series in source.listing())
