"""The 61 TA-Lib candlestick patterns, with a point-in-time confidence per detection.

A detection at bar t has a direction (+1 bullish, -1 bearish) and a strength (TA-Lib's
100 or 200, as 1 or 2). It is a *hit* when the close `horizon` bars later moved in its
direction. Its **confidence** is the pattern's hit rate on this series over the earlier
detections whose outcome had matured by t (detection bar + horizon <= t), shrunk toward a
prior rate with the weight of `prior_strength` detections:

    confidence = (hits + k * prior) / (matured + k)

so a pattern seen rarely starts near the prior and earns its own rate as evidence grows.
The prior is the pattern's **global rate** when `BaseRates` are given: its hit rate pooled
over every series' detections whose outcome was known by t (compared in absolute time, at
bar closes), else 0.5 (or a fixed rate per pattern).
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import talib
import talib.abstract

PATTERNS: tuple[str, ...] = tuple(talib.get_function_groups()["Pattern Recognition"])
HORIZON = 5
PRIOR = 0.5
PRIOR_STRENGTH = 20.0


def raw_patterns(candles: pd.DataFrame) -> np.ndarray:
    """TA-Lib's output for every pattern, as int16 (61 x bars: one contiguous row per pattern)."""
    o, h, lo, c = (candles[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close"))
    out = np.empty((len(PATTERNS), len(c)), dtype=np.int16)
    for k, name in enumerate(PATTERNS):
        out[k] = getattr(talib, name)(o, h, lo, c)
    return out


def pattern_key(name: str) -> str:
    """The short key of a TA-Lib pattern name: CDLENGULFING -> engulfing."""
    return name[3:].lower()


def display_name(name: str) -> str:
    """TA-Lib's own name of a pattern: CDLENGULFING -> Engulfing Pattern."""
    return talib.abstract.Function(name).info["display_name"]


@dataclass(frozen=True)
class PatternInfo:
    pattern: str  # TA-Lib's function name, CDLENGULFING
    key: str
    name: str  # TA-Lib's display name
    direction: str  # what it signalled on the sample: "bullish", "bearish", "both" or "not seen"


@cache
def catalogue(sample: Callable[[], Iterable[pd.DataFrame]]) -> tuple[PatternInfo, ...]:
    """Every pattern with its names and the directions it signalled on the sample's candles
    (TA-Lib does not say which way a pattern points). Computed once per sample function:
    the function is the cache's key, so pass the same one each time."""
    signs: dict[str, set[int]] = {p: set() for p in PATTERNS}
    for candles in sample():
        raw = raw_patterns(candles)
        for k, name in enumerate(PATTERNS):
            signs[name] |= set(np.sign(raw[k][raw[k] != 0]).tolist())
    named = {frozenset({1, -1}): "both", frozenset({1}): "bullish", frozenset({-1}): "bearish"}
    return tuple(PatternInfo(name, pattern_key(name), display_name(name), named.get(frozenset(signs[name]), "not seen"))
                 for name in PATTERNS)


def forward_returns(close: np.ndarray, horizon: int) -> np.ndarray:
    fwd = np.full(len(close), np.nan)
    k = max(len(close) - horizon, 0)  # a series shorter than the horizon has no outcome yet
    fwd[:k] = close[horizon : horizon + k] / close[:k] - 1
    return fwd


def outcomes(candles: pd.DataFrame, timeframe: str, horizon: int = HORIZON) -> pd.DataFrame:
    """Matured detections of this series: pattern, when the outcome became known, and the hit."""
    raw = raw_patterns(candles)
    fwd = forward_returns(candles["close"].to_numpy(dtype="float64"), horizon)
    closes = candles.index + pd.Timedelta(timeframe)
    parts = []
    for k, name in enumerate(PATTERNS):
        at = np.flatnonzero(raw[k])
        at = at[at + horizon < len(fwd)]
        parts.append(pd.DataFrame({"pattern": name, "known_at": closes[at + horizon], "hit": np.sign(fwd[at]) == np.sign(raw[k, at])}))
    return pd.concat(parts, ignore_index=True)


def pooled_outcomes(series: Iterable[tuple[pd.DataFrame, str]]) -> pd.DataFrame:
    """The matured detections of every (candles, timeframe) series in one table: what
    `BaseRates` pools (the `pattern_base_rates` asset's frame); empty when no series is given."""
    parts = [outcomes(candles, timeframe) for candles, timeframe in series]
    if not parts:
        return pd.DataFrame({"pattern": [], "known_at": pd.DatetimeIndex([], tz="UTC"), "hit": []})
    return pd.concat(parts, ignore_index=True)


class BaseRates:
    """Each pattern's global hit rate, point in time: pooled over the outcomes known by t."""

    def __init__(self, table: pd.DataFrame) -> None:
        self._by: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, group in table.sort_values("known_at").groupby("pattern"):
            known = pd.DatetimeIndex(group["known_at"]).as_unit("ns").asi8
            self._by[name] = (known, np.concatenate([[0], np.cumsum(group["hit"].to_numpy(dtype=np.int64))]))

    def at(self, pattern: str, when: pd.DatetimeIndex, default: float = PRIOR) -> np.ndarray:
        """The pooled rate as known at each time in `when` (`default` before any outcome)."""
        if pattern not in self._by:
            return np.full(len(when), default)
        known, hits = self._by[pattern]
        n = np.searchsorted(known, when.as_unit("ns").asi8, side="right")
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, hits[n] / n, default)


Prior = float | Mapping[str, float] | BaseRates


def _prior(prior: Prior, name: str, when: pd.DatetimeIndex) -> float | np.ndarray:
    if isinstance(prior, BaseRates):
        return prior.at(name, when)
    return prior[name] if isinstance(prior, Mapping) else prior


def _detections_of(row: np.ndarray, fwd: np.ndarray, horizon: int, prior: Prior, name: str, closes: pd.DatetimeIndex,
                   prior_strength: float):
    """Bars, directions and point-in-time confidences of one pattern's detections."""
    at = np.flatnonzero(row)
    prior = _prior(prior, name, closes[at])
    direction = np.sign(row[at]).astype(np.int8)
    hit = np.sign(fwd[at]) == direction  # NaN (not matured) compares False
    # detections are in time order, so are their maturity bars: count those matured by each t
    n_matured = np.searchsorted(at + horizon, at, side="right")
    hits_before = np.concatenate([[0], np.cumsum(hit)])[n_matured]
    return at, direction, (hits_before + prior_strength * prior) / (n_matured + prior_strength)


def pattern_features(candles: pd.DataFrame, timeframe: str, horizon: int = HORIZON, prior: Prior = PRIOR,
                     prior_strength: float = PRIOR_STRENGTH) -> pd.DataFrame:
    """Per pattern its signed strength (cdl_<name>: -2..2 as int8, 0 = none), plus the strongest
    bullish and bearish confidences at the bar, the number of detections and their
    confidence-weighted net direction (sum of direction x (confidence - 0.5))."""
    raw = raw_patterns(candles)
    fwd = forward_returns(candles["close"].to_numpy(dtype="float64"), horizon)
    closes = candles.index + pd.Timedelta(timeframe)  # when each bar's detection is known
    n = raw.shape[1]
    bull, bear, net = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n)
    for k, name in enumerate(PATTERNS):
        at, direction, conf = _detections_of(raw[k], fwd, horizon, prior, name, closes, prior_strength)
        up, dn = direction > 0, direction < 0
        bull[at[up]] = np.fmax(bull[at[up]], conf[up])  # indices are unique within one pattern
        bear[at[dn]] = np.fmax(bear[at[dn]], conf[dn])
        net[at] += direction * (conf - 0.5)
    names = [f"cdl_{pattern_key(p)}" for p in PATTERNS]
    signed = pd.DataFrame((raw // 100).T.astype(np.int8), index=candles.index, columns=names)  # TA-Lib: multiples of 100
    summary = pd.DataFrame({"cdl_bull_conf": bull, "cdl_bear_conf": bear, "cdl_count": (raw != 0).sum(axis=0).astype("float64"),
                            "cdl_net_conf": net}, index=candles.index)
    return pd.concat([signed, summary], axis=1)


def detections(candles: pd.DataFrame, timeframe: str, horizon: int = HORIZON, prior: Prior = PRIOR,
               prior_strength: float = PRIOR_STRENGTH) -> pd.DataFrame:
    """One row per detection: ts, pattern, direction, strength, confidence (for the detections table)."""
    raw = raw_patterns(candles)
    fwd = forward_returns(candles["close"].to_numpy(dtype="float64"), horizon)
    closes = candles.index + pd.Timedelta(timeframe)
    parts = []
    for k, name in enumerate(PATTERNS):
        at, direction, conf = _detections_of(raw[k], fwd, horizon, prior, name, closes, prior_strength)
        parts.append(pd.DataFrame({"ts": candles.index[at], "pattern": name, "direction": direction.astype(int),
                                   "strength": np.abs(raw[k, at]) / 100.0, "confidence": conf}))
    return pd.concat(parts, ignore_index=True).sort_values(["ts", "pattern"], ignore_index=True)

