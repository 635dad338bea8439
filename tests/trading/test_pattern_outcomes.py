"""Pattern outcomes: signed forward returns, pending until the horizon passed, per-pattern figures."""

import numpy as np
import pandas as pd
import pytest

from market.synthetic import generate_many
from trading.patterns import detection_returns, pattern_performance


def test_outcomes_are_signed_and_pending_at_the_end():
    candles = generate_many(["X"], "1d", 800, seed=4)["X"]
    rows = detection_returns(candles, horizon=5)
    close = candles["close"]
    for r in rows.sample(50, random_state=0).itertuples():
        t = candles.index.get_loc(r.ts)
        if t + 5 < len(candles):
            assert r._5 == pytest.approx(r.direction * (close.iloc[t + 5] / close.iloc[t] - 1))
            assert r.hit == float(r._5 > 0)
        else:
            assert np.isnan(r._5) and np.isnan(r.hit)
    # the future after t never changes an outcome already known at t
    cut = detection_returns(candles.iloc[:600], horizon=5)
    known = cut[cut["return"].notna()].set_index(["ts", "pattern"])["return"]
    assert known.equals(rows.set_index(["ts", "pattern"])["return"].loc[known.index])


def test_performance_table():
    rows = pd.DataFrame({"pattern": ["A", "A", "A", "B"], "return": [0.02, -0.01, np.nan, 0.03]})
    table = pattern_performance(rows).set_index("pattern")
    assert table.loc["A", "count"] == 3 and table.loc["A", "matured"] == 2 and table.loc["A", "win_rate"] == 0.5
    assert table.loc["A", "mean_return"] == pytest.approx(0.005) and np.isnan(table.loc["B", "t_stat"])  # one sample: no spread
    with pytest.raises(ValueError, match="horizon"):
        detection_returns(pd.DataFrame(columns=["open", "high", "low", "close"]), 0)
