"""The universe: which (symbol, timeframe) series the platform works on."""

import re
from dataclasses import dataclass

import pandas as pd

# Bar lengths the platform knows, shortest first; the intraday ones are those under a day.
TIMEFRAMES = ("1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w")
INTRADAY: tuple[str, ...] = tuple(t for t in TIMEFRAMES if t not in ("1d", "1w"))
SYMBOL_CHARS = "A-Za-z0-9.^-"  # a symbol's characters, as a regex class body (file names: SYMBOL_TIMEFRAME)
SYMBOL = rf"^[{SYMBOL_CHARS}]{{1,32}}$"  # a symbol, here and in the API
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
        if not re.fullmatch(SYMBOL, symbol):
            reason = "is longer than 32 characters" if len(symbol) > 32 else "has characters other than letters, digits, '.', '-', '^'"
            raise UniverseError(f"{item!r}: symbol {symbol!r} {reason}")
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
