"""The point-in-time check, shared by the tests and the features asset check.

`leaks` recomputes features on candles cut at each t and compares the row at t with
the row computed on the full history; any difference is a feature that used the future.
"""

from collections.abc import Callable, Iterable

import pandas as pd

# Features computed from a history that starts later agree with those from a longer one,
# at bars at least WARMUP_BARS after the later start, within WARMUP_TOLERANCE (absolute,
# in the features' own ML-ready units). Measured on SPX daily, history from bar 0 against
# history from bar 1,500, largest absolute difference over all such columns: 1.4e-2 after
# 200 bars (mtf_1w_rsi_14), 1.3e-4 after 500 (ema_dist_200), 7.3e-7 after 1,000.
# Pattern confidences are excluded on purpose: they accumulate evidence over the whole
# history, so a longer history *should* move them.
WARMUP_BARS = 500
WARMUP_TOLERANCE = 1e-3


def drift_columns(columns: Iterable[str]) -> list[str]:
    return [c for c in columns if not (c.endswith("_conf") or c == "cdl_net_conf")]


def leaks(
    candles: pd.DataFrame,
    timeframe: str,
    cuts: Iterable[int],
    build: Callable[[pd.DataFrame, str], pd.DataFrame] | None = None,
    full: pd.DataFrame | None = None,
) -> list[tuple[str, pd.Timestamp]]:
    """(column, t) for every feature whose value at t changes once the future after t is removed."""
    if build is None:
        from features import build_features as build
    full = build(candles, timeframe) if full is None else full
    found: list[tuple[str, pd.Timestamp]] = []
    for cut in sorted(int(i) for i in cuts):
        at = candles.index[cut]
        seen = build(candles.iloc[: cut + 1], timeframe).iloc[-1]
        known = full.loc[at, seen.index]
        same = (seen.to_numpy() == known.to_numpy()) | (pd.isna(seen.to_numpy()) & pd.isna(known.to_numpy()))
        found += [(col, at) for col in seen.index[~same]]
    return found
