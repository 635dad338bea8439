"""The position part of the agent's observation, from what a caller holds: a side, a quantity,
an entry price and bars held (the request's, or the paper account's), checked for range."""

from dataclasses import dataclass

import numpy as np

from training.rl.env import HOLD_SCALE

SIDES = {"flat": 0.0, "long": 1.0, "short": -1.0}


class PositionError(ValueError):
    """A position state the agent cannot take; `field` names the offending part."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Held:
    side: str
    unrealized_return: float
    bars_held: int
    source: str

    def vector(self) -> np.ndarray:
        """(position, unrealized return, bars held) as `Book.state` makes them in training."""
        if self.side == "flat":
            return np.zeros(3, np.float32)
        return np.array([SIDES[self.side], np.clip(self.unrealized_return, -1, 1), min(self.bars_held / HOLD_SCALE, 1.0)], np.float32)

    def answer(self) -> dict:
        return {"side": self.side, "unrealized_return": round(self.unrealized_return, 6), "bars_held": self.bars_held, "source": self.source}


def held(side: str, quantity: float, entry_price: float | None, bars_held: int, close: float, source: str = "request") -> Held:
    """The position state at the last close; PositionError when its parts contradict each other."""
    if side not in SIDES:
        raise PositionError(f"side must be one of {sorted(SIDES)}, got {side!r}", "side")
    if side == "flat":
        if quantity != 0 or bars_held != 0:
            raise PositionError("a flat position holds quantity 0 for 0 bars", "quantity" if quantity != 0 else "bars_held")
        return Held("flat", 0.0, 0, source)
    if not quantity > 0:
        raise PositionError(f"a {side} position needs a quantity > 0", "quantity")
    if entry_price is not None and not (np.isfinite(entry_price) and entry_price > 0):
        raise PositionError("entry_price must be a positive price", "entry_price")
    unrealized = 0.0 if entry_price is None else SIDES[side] * (close / entry_price - 1)
    return Held(side, float(unrealized), int(bars_held), source)
