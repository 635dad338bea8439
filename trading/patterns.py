"""Pattern outcomes: what happened `horizon` bars after each detection, and per-pattern figures.

A detection at bar t enters at t's close; its return is the close `horizon` bars later
over that close, signed by the pattern's direction (a bearish pattern wins when price
falls). Detections whose horizon is not in the data yet are pending, never guessed.
"""

import numpy as np
import pandas as pd

from features.patterns import PATTERNS, forward_returns, raw_patterns


def detection_returns(candles: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """One row per detection: ts, pattern, direction, strength, signed return, hit (NaN: pending)."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 bar, got {horizon}")
    raw = raw_patterns(candles)
    fwd = forward_returns(candles["close"].to_numpy(dtype="float64"), horizon)
    parts = []
    for k, name in enumerate(PATTERNS):
        at = np.flatnonzero(raw[k])
        direction = np.sign(raw[k, at]).astype(int)
        signed = direction * fwd[at]
        parts.append(pd.DataFrame({"ts": candles.index[at], "pattern": name, "direction": direction,
                                   "strength": np.abs(raw[k, at]) / 100.0, "return": signed,
                                   "hit": np.where(np.isnan(signed), np.nan, (signed > 0).astype(float))}))
    return pd.concat(parts, ignore_index=True).sort_values(["ts", "pattern"], ignore_index=True)


def pattern_performance(returns: pd.DataFrame, by: tuple[str, ...] = ("pattern",)) -> pd.DataFrame:
    """Per group: detections, matured, win rate, mean and median signed return, t-statistic of the mean."""
    matured = returns[returns["return"].notna()]
    counts = returns.groupby(list(by)).size().rename("count")
    stats = matured.groupby(list(by))["return"].agg(matured="size", win_rate=lambda r: float((r > 0).mean()),
                                                    mean_return="mean", median_return="median", std="std")
    out = pd.concat([counts, stats], axis=1).reset_index()
    out["matured"] = out["matured"].fillna(0).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["t_stat"] = out["mean_return"] / (out["std"] / np.sqrt(out["matured"]))
    return out.drop(columns="std").sort_values(["count", *by], ascending=[False, *[True] * len(by)], ignore_index=True)
