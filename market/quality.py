"""Data-quality checks on candles in the normal form's shape.

Blocking checks (corrupt data: never written, blocks everything downstream):
bars_consistent, timestamps_unique_ascending, no_missing_values.
Warning checks (real markets have them; they are reported, not refused):
no_gaps, fresh, volume_present.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from market.frames import CandleFormatError
from market.universe import timeframe_delta


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    blocking: bool
    summary: str
    metadata: dict[str, Any] = field(default_factory=dict)


BLOCKING = ("bars_consistent", "timestamps_unique_ascending", "no_missing_values")
WARNING = ("no_gaps", "fresh", "volume_present")
DESCRIPTIONS = {
    "bars_consistent": "low <= open, close <= high; prices > 0; volume >= 0",
    "timestamps_unique_ascending": "every timestamp once, in ascending order",
    "no_missing_values": "no NaN or infinite value in OHLCV",
    "no_gaps": "no run of missing bars longer than the tolerance, against the timeframe's calendar",
    "fresh": "the last bar is recent (live providers only)",
    "volume_present": "no bar with zero volume",
}


def _first(index: pd.Index, mask: np.ndarray) -> str | None:
    return str(index[mask][0]) if mask.any() else None


def check_consistent(frame: pd.DataFrame) -> CheckOutcome:
    o, h, lo, c, v = (frame[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    with np.errstate(invalid="ignore"):
        bad = (h < np.maximum(o, c)) | (lo > np.minimum(o, c)) | (lo <= 0) | (v < 0)
    n = int(bad.sum())
    return CheckOutcome(
        "bars_consistent", n == 0, True,
        "all bars consistent" if n == 0 else f"{n} bar(s) with high/low not bounding open/close, a price <= 0 or negative volume, first at {_first(frame.index, bad)}",
        {"bad_bars": n},
    )


def check_order(frame: pd.DataFrame) -> CheckOutcome:
    ts = frame.index
    dup = ts.duplicated()
    steps = np.diff(ts.asi8) if len(ts) > 1 else np.array([], dtype=np.int64)
    backwards = np.concatenate([[False], steps < 0])
    n_dup, n_back = int(dup.sum()), int(backwards.sum())
    ok = n_dup == 0 and n_back == 0
    summary = "unique and ascending" if ok else f"{n_dup} duplicate and {n_back} out-of-order timestamp(s), first at {_first(ts, dup | backwards)}"
    return CheckOutcome("timestamps_unique_ascending", ok, True, summary, {"duplicates": n_dup, "out_of_order": n_back})


def check_values(frame: pd.DataFrame) -> CheckOutcome:
    bad = ~np.isfinite(frame.to_numpy()).all(axis=1)
    n = int(bad.sum())
    return CheckOutcome(
        "no_missing_values", n == 0, True,
        "no missing values" if n == 0 else f"{n} bar(s) with NaN or infinite values, first at {_first(frame.index, bad)}",
        {"bad_bars": n},
    )


def missing_bars(index: pd.DatetimeIndex, timeframe: str) -> np.ndarray:
    """Lengths of the runs of missing bars against the timeframe's expected calendar.

    Daily: every weekday is expected (exchange holidays show up as 1-bar gaps).
    Weekly: one bar every 7 days. Intraday: every weekday with no bar at all, plus
    missing bars inside a day that has bars (the session itself is learnt from the
    data, so 24h FX and 6.5h equity sessions both work).
    """
    index = index.sort_values().unique()
    if len(index) < 2:
        return np.array([], dtype=np.int64)
    step = timeframe_delta(timeframe)
    if timeframe in ("1d", "1w"):
        days = index.normalize()
        if timeframe == "1w":
            gaps = np.diff(days.asi8) // step.value - 1
            return gaps[gaps > 0]
        expected = pd.bdate_range(days[0], days[-1], tz="UTC")
        return _runs(~expected.isin(days))
    days = index.normalize()
    weekdays = pd.bdate_range(days[0], days[-1], tz="UTC")
    missing_days = _runs(~weekdays.isin(days)) * int(pd.Timedelta("1D") / step)  # whole days, in bars
    same_day = days[1:] == days[:-1]
    inside = (np.diff(index.asi8) // step.value - 1)[same_day]
    return np.concatenate([missing_days, inside[inside > 0]])


def _runs(mask: np.ndarray) -> np.ndarray:
    """Lengths of the runs of True in `mask`."""
    if not mask.any():
        return np.array([], dtype=np.int64)
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


def check_gaps(frame: pd.DataFrame, timeframe: str, max_gap_bars: int) -> CheckOutcome:
    runs = missing_bars(frame.index, timeframe)
    longest = int(runs.max()) if len(runs) else 0
    ok = longest <= max_gap_bars
    summary = f"{len(runs)} gap(s), {int(runs.sum())} missing bar(s), longest {longest} bar(s) (tolerance {max_gap_bars})"
    return CheckOutcome("no_gaps", ok, False, summary, {"gaps": len(runs), "missing_bars": int(runs.sum()), "longest_gap_bars": longest})


def check_fresh(frame: pd.DataFrame, timeframe: str, live: bool, now: datetime, stale_bars: int) -> CheckOutcome:
    if frame.empty:
        return CheckOutcome("fresh", False, False, "no bars", {})
    age = pd.Timestamp(now) - frame.index.max()
    allowed = stale_bars * timeframe_delta(timeframe) + pd.Timedelta(days=3)  # a weekend plus a holiday
    meta = {"last_bar_age_hours": round(age / pd.Timedelta(hours=1), 1)}
    if not live:
        return CheckOutcome("fresh", True, False, "historical data set: staleness is checked for live providers only", meta)
    ok = age <= allowed
    return CheckOutcome("fresh", ok, False, f"last bar {age} old (allowed {allowed})", meta)


def check_volume(frame: pd.DataFrame) -> CheckOutcome:
    zero = (frame["volume"] == 0).to_numpy()
    n = int(zero.sum())
    return CheckOutcome(
        "volume_present", n == 0, False,
        "every bar has volume" if n == 0 else f"{n} zero-volume bar(s), first at {_first(frame.index, zero)}",
        {"zero_volume_bars": n},
    )


def blocking_checks(frame: pd.DataFrame) -> list[CheckOutcome]:
    """The checks a batch must pass to be written at all."""
    return [check_consistent(frame), check_order(frame), check_values(frame)]


def run_checks(
    frame: pd.DataFrame,
    timeframe: str,
    *,
    live: bool,
    now: datetime,
    max_gap_bars: int = 3,
    stale_bars: int = 3,
) -> list[CheckOutcome]:
    """Every check, blocking ones first. The warning checks assume the blocking ones passed."""
    blocking = blocking_checks(frame)
    if not all(c.passed for c in blocking):
        return blocking
    return [*blocking, check_gaps(frame, timeframe, max_gap_bars), check_fresh(frame, timeframe, live, now, stale_bars), check_volume(frame)]


def validated(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """`frame` if every blocking check passes, else CandleFormatError naming `source` and the problem."""
    for outcome in blocking_checks(frame):
        if not outcome.passed:
            raise CandleFormatError(f"{source}: {outcome.summary}")
    return frame
