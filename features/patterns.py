"""The 61 TA-Lib candlestick patterns, with a point-in-time confidence per detection.

A detection at bar t has a direction (+1 bullish, -1 bearish) and a strength (TA-Lib's
100 or 200, as 1 or 2). It is a *hit* when the close `horizon` bars later moved in its
direction. Its **confidence** is the pattern's hit rate on this series over the earlier
detections whose outcome had matured by t (detection bar + horizon <= t), shrunk toward a
prior rate with the weight of `prior_strength` detections:

    confidence = (hits + k * prior) / (matured + k)

so a pattern seen rarely starts near the prior and earns its own rate as evidence grows.
"""

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import talib

PATTERNS: tuple[str, ...] = tuple(talib.get_function_groups()["Pattern Recognition"])
HORIZON = 5
PRIOR = 0.5
PRIOR_STRENGTH = 20.0


def raw_patterns(candles: pd.DataFrame) -> np.ndarray:
    """TA-Lib's output for every pattern: an int array (bars x 61) of 0, +-100 or +-200."""
    o, h, lo, c = (candles[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close"))
    return np.column_stack([getattr(talib, name)(o, h, lo, c) for name in PATTERNS]).astype(np.int16)


def confidences(raw: np.ndarray, close: np.ndarray, horizon: int = HORIZON, prior: float | Mapping[str, float] = PRIOR,
                prior_strength: float = PRIOR_STRENGTH) -> np.ndarray:
    """Point-in-time confidence of each detection (NaN where no detection), bars x patterns."""
    n = len(close)
    fwd = np.full(n, np.nan)
    fwd[: n - horizon] = close[horizon:] / close[: n - horizon] - 1
    out = np.full(raw.shape, np.nan)
    for k, name in enumerate(PATTERNS):
        at = np.flatnonzero(raw[:, k])
        if at.size == 0:
            continue
        direction = np.sign(raw[at, k])
        matured = at + horizon < n  # its outcome exists in the data
        hit = (np.sign(fwd[at]) == direction) & matured
        # detections are in time order, so are their maturity bars: count those matured by each t
        ripe = at + horizon
        n_matured = np.searchsorted(ripe, at, side="right")
        hits_before = np.concatenate([[0], np.cumsum(hit)])[n_matured]
        p = prior[name] if isinstance(prior, Mapping) else prior
        out[at, k] = (hits_before + prior_strength * p) / (n_matured + prior_strength)
    return out


def pattern_features(candles: pd.DataFrame, horizon: int = HORIZON, prior: float | Mapping[str, float] = PRIOR,
                     prior_strength: float = PRIOR_STRENGTH) -> pd.DataFrame:
    """Per pattern its signed strength (cdl_<name>: -2..2, 0 = none), plus the strongest bullish
    and bearish confidences at the bar and their confidence-weighted net direction."""
    raw = raw_patterns(candles)
    conf = confidences(raw, candles["close"].to_numpy(dtype="float64"), horizon, prior, prior_strength)
    signed = raw / 100.0
    cols = {f"cdl_{name[3:].lower()}": signed[:, k] for k, name in enumerate(PATTERNS)}
    bull = np.where(raw > 0, conf, np.nan)
    bear = np.where(raw < 0, conf, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no detection on that side
        cols["cdl_bull_conf"] = np.nanmax(bull, axis=1)
        cols["cdl_bear_conf"] = np.nanmax(bear, axis=1)
    cols["cdl_count"] = (raw != 0).sum(axis=1).astype("float64")
    cols["cdl_net_conf"] = np.nansum(np.sign(raw) * np.nan_to_num(conf - 0.5), axis=1)
    return pd.DataFrame(cols, index=candles.index)


def detections(candles: pd.DataFrame, horizon: int = HORIZON, prior: float | Mapping[str, float] = PRIOR,
               prior_strength: float = PRIOR_STRENGTH) -> pd.DataFrame:
    """One row per detection: ts, pattern, direction, strength, confidence (for the detections table)."""
    raw = raw_patterns(candles)
    conf = confidences(raw, candles["close"].to_numpy(dtype="float64"), horizon, prior, prior_strength)
    bar, k = np.nonzero(raw)
    return pd.DataFrame({
        "ts": candles.index[bar],
        "pattern": np.asarray(PATTERNS)[k],
        "direction": np.sign(raw[bar, k]).astype(int),
        "strength": np.abs(raw[bar, k]) / 100.0,
        "confidence": conf[bar, k],
    }).sort_values(["ts", "pattern"], ignore_index=True)
