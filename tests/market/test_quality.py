"""Each check fires on crafted bad data, and passes on clean data."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from market.frames import CandleFormatError
from market.quality import BLOCKING, missing_bars, run_checks, validated
from market.synthetic import generate

NOW = datetime(2026, 11, 26, tzinfo=UTC)


@pytest.fixture
def clean() -> pd.DataFrame:
    return generate("CLEAN", "1d", 300, seed=1)


def outcomes(frame, timeframe="1d", **kwargs):
    return {o.name: o for o in run_checks(frame, timeframe, live=kwargs.pop("live", False), now=kwargs.pop("now", NOW), **kwargs)}


def test_clean_data_passes_every_check(clean):
    result = outcomes(clean)
    assert all(o.passed for o in result.values()), {k: o.summary for k, o in result.items() if not o.passed}
    assert len(result) == 6


@pytest.mark.parametrize(
    ("corrupt", "check"),
    [
        (lambda f: f.assign(high=np.where(np.arange(len(f)) == 5, f["low"] * 0.9, f["high"])), "bars_consistent"),
        (lambda f: f.assign(low=np.where(np.arange(len(f)) == 5, -1.0, f["low"])), "bars_consistent"),
        (lambda f: f.assign(volume=np.where(np.arange(len(f)) == 5, -10.0, f["volume"])), "bars_consistent"),
        (lambda f: pd.concat([f, f.iloc[[10]]]), "timestamps_unique_ascending"),
        (lambda f: f.iloc[np.r_[0:10, 11, 10, 12 : len(f)]], "timestamps_unique_ascending"),
        (lambda f: f.assign(close=np.where(np.arange(len(f)) == 7, np.nan, f["close"])), "no_missing_values"),
        (lambda f: f.assign(open=np.where(np.arange(len(f)) == 7, np.inf, f["open"])), "no_missing_values"),
    ],
)
def test_blocking_checks_fire_on_corrupt_bars(clean, corrupt, check):
    result = outcomes(corrupt(clean))
    assert not result[check].passed and result[check].blocking
    assert set(result) == set(BLOCKING)  # warnings are not evaluated on corrupt data
    with pytest.raises(CandleFormatError, match="src: "):
        validated(corrupt(clean), "src")


def test_gaps_warn_beyond_the_tolerance(clean):
    holed = clean.drop(clean.index[100:105])  # five weekdays missing
    result = outcomes(holed, max_gap_bars=3)
    assert not result["no_gaps"].passed and not result["no_gaps"].blocking
    assert result["no_gaps"].metadata == {"gaps": 1, "missing_bars": 5, "longest_gap_bars": 5}
    assert outcomes(clean.drop(clean.index[100]), max_gap_bars=3)["no_gaps"].passed  # a holiday is tolerated


def test_intraday_gaps_learn_the_session_from_the_data():
    hours = pd.date_range("2024-01-01 14:00", periods=7, freq="1h", tz="UTC")  # a 7-bar equity-like session
    days = pd.bdate_range("2024-01-01", periods=10, tz="UTC")
    index = pd.DatetimeIndex([d + (h - hours[0].normalize()) for d in days for h in hours])
    assert len(missing_bars(index, "1h")) == 0  # nights and weekends are not gaps
    assert list(missing_bars(index.delete([15, 16]), "1h")) == [2]  # two hours missing inside a session
    assert list(missing_bars(index[index.normalize() != days[3]], "1h")) == [24]  # a whole weekday missing


def test_staleness_is_judged_for_live_providers_only(clean):
    assert outcomes(clean, live=False)["fresh"].passed
    stale = outcomes(clean, live=True)
    assert not stale["fresh"].passed and stale["fresh"].metadata["last_bar_age_hours"] > 24 * 365
    fresh = outcomes(clean, live=True, now=clean.index[-1].to_pydatetime())
    assert fresh["fresh"].passed


def test_zero_volume_warns(clean):
    result = outcomes(clean.assign(volume=np.where(np.arange(len(clean)) % 100 == 0, 0.0, clean["volume"])))
    assert not result["volume_present"].passed and result["volume_present"].metadata == {"zero_volume_bars": 3}
