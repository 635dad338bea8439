from datetime import UTC, datetime

import numpy as np
import pandas as pd

from market.quality import run_checks
from market.synthetic import SyntheticProvider, generate, generate_many


def test_same_seed_same_series_in_any_order_of_generation():
    a = generate("AAA", "1d", 500, seed=3)
    both = generate_many(["BBB", "AAA"], "1d", 500, seed=3)
    pd.testing.assert_frame_equal(a, both["AAA"])
    assert not a.equals(generate("AAA", "1d", 500, seed=4))


def test_series_are_sound_and_realistic():
    frame = generate("REAL", "1d", 5000, seed=11)
    assert all(c.passed for c in run_checks(frame, "1d", live=False, now=datetime.now(UTC)))
    r = np.log(frame["close"]).diff().dropna()
    assert 0.12 < r.std() * np.sqrt(252) < 0.35  # around the 20 % long-run volatility
    assert r.kurt() > 1  # fat tails
    assert np.corrcoef(r.abs()[1:], r.abs()[:-1])[0, 1] > 0.05  # volatility clustering
    assert (frame["open"] != frame["close"].shift()).iloc[1:].mean() > 0.99  # opening gaps
    assert np.corrcoef(frame["volume"].iloc[1:], r.abs())[0, 1] > 0.1  # volume follows big moves


def test_planted_signal_is_there_only_when_asked():
    def agreement(signal):
        r = np.log(generate("SIG", "1d", 20000, seed=5, signal=signal)["close"]).diff().dropna().to_numpy()
        return (np.sign(r[1:]) == np.sign(r[:-1])).mean()

    assert abs(agreement(0.0) - 0.5) < 0.015
    assert agreement(0.3) > 0.57


def test_intraday_calendar_and_provider_range():
    frame = generate("FX", "1h", 100)
    assert frame.index[1] - frame.index[0] == pd.Timedelta(hours=1)
    assert (frame.index.dayofweek < 5).all()
    provider = SyntheticProvider(n_bars=100)
    part = provider.fetch("FX", "1h", start=frame.index[50].to_pydatetime())
    assert len(part) == 50 and part.index[0] == frame.index[50]
