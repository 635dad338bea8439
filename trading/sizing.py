"""Position sizing: how many units to trade for a given equity and price.

- fixed fraction: risk `risk_fraction` of equity between the entry and the stop;
- volatility target: a position whose annualized volatility is `target_vol` of equity;
- capped Kelly: f* = p - (1 - p) / b for win probability p and payoff ratio b, never
  negative, scaled by `kelly_fraction` and capped at `cap` of equity (full Kelly on an
  estimated edge is far too aggressive).
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    quantity: float
    notional: float
    fraction: float  # of equity
    method: str
    detail: str


def _size(equity: float, price: float, notional: float, method: str, detail: str) -> Size:
    quantity = math.floor(notional / price * 1e6) / 1e6  # never round up past the budget
    return Size(quantity, quantity * price, quantity * price / equity, method, detail)


def fixed_fraction(equity: float, price: float, stop_price: float, risk_fraction: float = 0.01) -> Size:
    risk_per_unit = abs(price - stop_price)
    if risk_per_unit == 0:
        raise ValueError("stop_price must differ from price")
    units = equity * risk_fraction / risk_per_unit
    return _size(equity, price, min(units * price, equity), "fixed_fraction",
                 f"risk {risk_fraction:.2%} of equity over {risk_per_unit:.4g} a unit to the stop (capped at 100% of equity)")


def volatility_target(equity: float, price: float, volatility: float, target_vol: float = 0.15) -> Size:
    if volatility <= 0:
        raise ValueError("volatility must be > 0")
    weight = min(target_vol / volatility, 1.0)
    return _size(equity, price, equity * weight, "volatility_target",
                 f"{target_vol:.0%} target / {volatility:.1%} volatility = {weight:.1%} of equity (capped at 100%)")


def capped_kelly(equity: float, price: float, win_probability: float, payoff_ratio: float, kelly_fraction: float = 0.5,
                 cap: float = 0.25) -> Size:
    if not 0 < win_probability < 1 or payoff_ratio <= 0:
        raise ValueError("win_probability must be in (0, 1) and payoff_ratio > 0")
    full = win_probability - (1 - win_probability) / payoff_ratio
    fraction = min(max(full, 0.0) * kelly_fraction, cap)
    return _size(equity, price, equity * fraction, "kelly",
                 f"full Kelly {full:.1%}, x{kelly_fraction} = {max(full, 0) * kelly_fraction:.1%}, capped at {cap:.0%}: {fraction:.1%}")
