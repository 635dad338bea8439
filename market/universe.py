"""The universe: which (symbol, timeframe) series the platform works on."""

from dataclasses import dataclass

import pandas as pd

# Bar lengths the platform knows, shortest first.
TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w")
_DELTAS = {"m": "1min", "h": "1h", "d": "1D", "w": "7D"}


def timeframe_delta(timeframe: str) -> pd.Timedelta:
    """The length of one bar: `1h` -> 1 hour, `1w` -> 7 days."""
    if timeframe not in TIMEFRAMES:
        raise ValueError(f"unknown timeframe {timeframe!r}; expected one of {', '.join(TIMEFRAMES)}")
    n, unit = int(timeframe[:-1]), timeframe[-1]
    return n * pd.Timedelta(_DELTAS[unit])


class UniverseError(ValueError):
    """A universe entry that is malformed, or names data no provider has."""


@dataclass(frozen=True, order=True)
class Series:
    symbol: str
    timeframe: str

    def __str__(self) -> str:
        return f"{self.symbol}:{self.timeframe}"


def timeframe_set(timeframes: str) -> set[str] | None:
    """`1d,1h` as a set; None when empty (no preference)."""
    return {t.strip() for t in timeframes.split(",") if t.strip()} or None


def choose_series(available: list[Series], timeframes: str) -> list[Series]:
    """The series of the wanted timeframes; every series when none is of them (or none is wanted)."""
    wanted = timeframe_set(timeframes)
    return [s for s in available if wanted is None or s.timeframe in wanted] or list(available)


def parse_universe(text: str) -> list[Series]:
    """Parse `SYMBOL:TIMEFRAME,...` (e.g. `SPX:1d,EURUSD:1h`); order kept, duplicates dropped."""
    series: list[Series] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        symbol, sep, timeframe = item.partition(":")
        symbol, timeframe = symbol.strip().upper(), timeframe.strip()
        if not sep or not symbol or not timeframe:
            raise UniverseError(f"{item!r} is not SYMBOL:TIMEFRAME (e.g. SPX:1d)")
        if timeframe not in TIMEFRAMES:
            raise UniverseError(f"{item!r}: unknown timeframe {timeframe!r}; expected one of {', '.join(TIMEFRAMES)}")
        if not symbol.replace(".", "").replace("-", "").replace("^", "").isalnum():
            raise UniverseError(f"{item!r}: symbol {symbol!r} has characters other than letters, digits, '.', '-', '^'")
        if Series(symbol, timeframe) not in series:
            series.append(Series(symbol, timeframe))
    if not series:
        raise UniverseError("empty universe; expected SYMBOL:TIMEFRAME entries separated by commas")
    return series


def resolve_universe(text: str | None, available: list[Series]) -> list[Series]:
    """The configured universe checked against what the providers have; default: all of it."""
    if not text:
        return sorted(available)
    wanted = parse_universe(text)
    unknown = [s for s in wanted if s not in available]
    if unknown:
        have = ", ".join(str(s) for s in sorted(available)) or "nothing"
        raise UniverseError(f"no data for {', '.join(map(str, unknown))}; available: {have}")
    return wanted
