"""Risk figures, position sizes and signal levels against numbers worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from market.synthetic import generate_many
from trading import risk, sizing
from trading.signals import entry_signal, exit_signal, levels


def test_drawdown_var_and_cvar():
    values = pd.Series([100.0, 110.0, 99.0, 105.0, 94.5, 120.0])
    figures = risk.assess(values, "1d", confidence=0.8)
    assert figures["max_drawdown"] == pytest.approx(1 - 94.5 / 110)
    r = values.to_numpy()[1:] / values.to_numpy()[:-1] - 1
    assert figures["var"] == pytest.approx(-np.quantile(r, 0.2)) and figures["cvar"] >= figures["var"]
    assert figures["volatility_annualized"] == pytest.approx(r.std(ddof=1) * np.sqrt(252))
    with pytest.raises(ValueError, match="at least 3 positive"):
        risk.assess(pd.Series([1.0, -1.0, 2.0]), "1d")


def test_sizes():
    ff = sizing.fixed_fraction(100_000, 50.0, 48.0, 0.01)  # risk 1,000 over 2 a unit: 500 units
    assert ff.quantity == 500 and ff.notional == 25_000
    assert sizing.fixed_fraction(100_000, 50.0, 49.99, 0.05).fraction == pytest.approx(1.0)  # capped at equity
    vt = sizing.volatility_target(100_000, 20.0, volatility=0.30, target_vol=0.15)
    assert vt.fraction == pytest.approx(0.5) and vt.quantity == 2_500
    kelly = sizing.capped_kelly(100_000, 10.0, win_probability=0.6, payoff_ratio=1.0, kelly_fraction=0.5, cap=0.25)
    assert kelly.fraction == pytest.approx(0.1)  # full Kelly 0.2, halved
    assert sizing.capped_kelly(100_000, 10.0, 0.4, 1.0).quantity == 0  # no edge: no position
    assert sizing.capped_kelly(100_000, 10.0, 0.9, 3.0).fraction == pytest.approx(0.25)  # capped
    with pytest.raises(ValueError, match="stop_price must differ"):
        sizing.fixed_fraction(1_000, 10.0, 10.0)


def test_signal_levels_are_the_label_barriers():
    candles = generate_many(["S"], "1d", 100, seed=2)["S"]
    lv = levels(candles, "long", {"take_profit": 2.0, "stop_loss": 1.0, "mode": "atr", "horizon": 10})
    assert lv.target - lv.entry == pytest.approx(2 * (lv.entry - lv.stop))
    signal = entry_signal(0.7, candles, {"take_profit": 2.0, "stop_loss": 1.0, "horizon": 10})
    assert signal["signal"] == "long" and signal["expected_r"] == pytest.approx(0.7 * 2 - 0.3)
    assert entry_signal(0.55, candles, {})["signal"] == "none"
    short = entry_signal(0.2, candles, {})
    assert short["signal"] == "short" and short["stop"] > short["entry"] > short["target"]
    held = exit_signal(0.6, candles, {}, "long", entry_price=float(candles["close"].iloc[-1]))
    assert held["action"] == "hold"
    stopped = exit_signal(0.6, candles, {}, "long", entry_price=float(candles["close"].iloc[-1]) * 1.5)
    assert stopped["action"] == "exit" and "past the stop" in stopped["reason"]
