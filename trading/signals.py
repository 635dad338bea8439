"""Entry and exit signals from the fused probability, with the levels the model was trained on.

The fused model predicts whether the take-profit barrier is hit before the stop-loss
(triple-barrier labels). A signal therefore uses *those* barriers: entry at the last
close, target and stop at the label's take-profit / stop-loss multiples of ATR(14) (or
fractions of the price), over the label's horizon. Its expected value in units of risk
follows: p x reward - (1 - p) x risk.
"""

from dataclasses import dataclass

import pandas as pd
import talib

from features.labels import LabelSpec


@dataclass(frozen=True)
class Levels:
    entry: float
    stop: float
    target: float
    horizon_bars: int
    risk_per_unit: float
    reward_per_unit: float


def levels(candles: pd.DataFrame, side: str, label_config: dict) -> Levels:
    """Stop and target for `side` ("long"/"short") entered at the last close."""
    spec = LabelSpec.from_dict(label_config)  # the model's stored labels; missing keys: the defaults
    h, lo, c = (candles[k].to_numpy(dtype="float64") for k in ("high", "low", "close"))
    tp, sl = spec.take_profit, spec.stop_loss
    if spec.mode == "atr":
        width = float(talib.ATR(h, lo, c, timeperiod=spec.atr_period)[-1])
        if not width == width:  # NaN: too few bars
            raise ValueError(f"at least {spec.atr_period + 1} bars are needed for ATR({spec.atr_period}) levels")
        up, down = tp * width, sl * width
    else:
        up, down = tp * c[-1], sl * c[-1]
    entry = float(c[-1])
    sign = 1 if side == "long" else -1
    return Levels(entry, entry - sign * down, entry + sign * up, spec.horizon, down, up)


def entry_signal(probability: float, candles: pd.DataFrame, label_config: dict, min_confidence: float = 0.6) -> dict:
    """Long when P(take-profit first) >= min_confidence, short when <= 1 - min_confidence, else none.
    (A short's win probability is read as 1 - p: the model's barriers are symmetric by default.)"""
    side = "long" if probability >= min_confidence else "short" if probability <= 1 - min_confidence else "none"
    win = probability if side != "short" else 1 - probability
    out = {"signal": side, "probability": probability, "min_confidence": min_confidence}
    if side != "none":
        lv = levels(candles, side, label_config)
        out |= {"entry": lv.entry, "stop": lv.stop, "target": lv.target, "horizon_bars": lv.horizon_bars,
                "reward_to_risk": lv.reward_per_unit / lv.risk_per_unit,
                "expected_r": win * lv.reward_per_unit / lv.risk_per_unit - (1 - win)}
    return out


def exit_signal(probability: float, candles: pd.DataFrame, label_config: dict, side: str, entry_price: float,
                band: float = 0.05) -> dict:
    """Exit when the price is past the position's stop or target (levels from the entry price
    and the current ATR), or when the model now leans against the position."""
    lv = levels(candles, side, label_config)
    sign = 1 if side == "long" else -1
    stop, target = entry_price - sign * lv.risk_per_unit, entry_price + sign * lv.reward_per_unit
    price = float(candles["close"].iloc[-1])
    leaning = probability if side == "long" else 1 - probability
    if sign * (price - stop) <= 0:
        action, why = "exit", f"price {price:.4g} is past the stop {stop:.4g}"
    elif sign * (price - target) >= 0:
        action, why = "exit", f"price {price:.4g} reached the target {target:.4g}"
    elif leaning <= 0.5 - band:
        action, why = "exit", f"the model now gives the position {leaning:.2f} (below {0.5 - band:.2f})"
    else:
        action, why = "hold", f"the model gives the position {leaning:.2f}; price between stop and target"
    return {"action": action, "reason": why, "price": price, "stop": stop, "target": target,
            "unrealized_return": sign * (price / entry_price - 1), "probability": probability}
