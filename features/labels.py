"""Triple-barrier labels: one compiled pass (numba), no Python loop over bars.

For the bar t (entry at its close), look at bars t+1 .. t+horizon:
- take-profit: the high reaches close[t] x (1 + tp); stop-loss: the low reaches
  close[t] x (1 - sl). tp and sl are fractions, or multiples of ATR(14)/close at t;
- the first barrier touched decides: label +1 (take-profit) or -1 (stop-loss); when one
  bar touches both, the stop-loss is assumed first (the conservative reading of OHLC);
- if neither is touched, the vertical barrier: label = sign of the horizon return (0 if flat).
Also: which barrier (1 tp, -1 sl, 0 time), bars to the hit, the realized return (at the
barrier price, or at the horizon close) and the plain horizon return. The last `horizon`
bars (whose future is not in the data) stay NaN: never guessed.
"""

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
import talib

LABEL_COLUMNS = ("label", "barrier", "bars_to_hit", "realized_return", "horizon_return")
MODES = ("atr", "pct")
ATTRS_KEY = "label_config"  # where a labels frame carries its spec (through Parquet to the training asset)


@dataclass(frozen=True)
class LabelSpec:
    """How bars are labelled; checked when made. `mode` "atr" reads take_profit/stop_loss as
    multiples of ATR(atr_period)/close, "pct" as fractions of the entry price."""

    horizon: int = 10  # bars looked ahead (the vertical barrier)
    take_profit: float = 2.0
    stop_loss: float = 2.0
    mode: str = "atr"
    atr_period: int = 14

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1 bar, got {self.horizon}")
        if self.take_profit <= 0 or self.stop_loss <= 0:
            raise ValueError("take_profit and stop_loss must be > 0")
        if self.mode not in MODES:
            raise ValueError(f"mode must be 'atr' or 'pct', got {self.mode!r}")
        if self.atr_period < 1:
            raise ValueError(f"atr_period must be >= 1 bar, got {self.atr_period}")
        for name in ("horizon", "atr_period"):
            if int(getattr(self, name)) != getattr(self, name):
                raise ValueError(f"{name} must be a whole number of bars, got {getattr(self, name)}")
            object.__setattr__(self, name, int(getattr(self, name)))
        for name in ("take_profit", "stop_loss"):  # 2 -> 2.0: the stored dict, MLflow params and hashes of a float given
            object.__setattr__(self, name, float(getattr(self, name)))

    def as_dict(self) -> dict[str, Any]:
        """The spec as stored (Parquet attrs, the model's `label_config`, MLflow `labels.*`
        params): atr_period only when it is not the default 14, which it always was before."""
        out: dict[str, Any] = {"horizon": self.horizon, "take_profit": self.take_profit, "stop_loss": self.stop_loss, "mode": self.mode}
        return out if self.atr_period == LabelSpec.atr_period else out | {"atr_period": self.atr_period}

    @classmethod
    def from_dict(cls, config: dict[str, Any]) -> "LabelSpec":
        """A stored spec; missing keys take the defaults (a model trained with {"horizon": 2})."""
        return cls(**config)


def with_spec(frame: pd.DataFrame, spec: LabelSpec) -> pd.DataFrame:
    """`frame` carrying `spec` in its attrs (kept by Parquet)."""
    frame.attrs[ATTRS_KEY] = spec.as_dict()
    return frame


def spec_config(frame: pd.DataFrame) -> dict[str, Any]:
    """The spec a labels frame carries, as stored ({} when it carries none)."""
    return dict(frame.attrs.get(ATTRS_KEY, {}))


def triple_barrier(candles: pd.DataFrame, spec: LabelSpec = LabelSpec()) -> pd.DataFrame:
    """Labels per bar under `spec`."""
    horizon = spec.horizon
    h, lo, c = (candles[k].to_numpy(dtype="float64") for k in ("high", "low", "close"))
    n = len(c)
    block = np.full((len(LABEL_COLUMNS), n), np.nan)  # one row per column: becomes the frame's block as is
    m = n - horizon  # bars whose whole horizon is in the data
    if m <= 0:
        return _frame(block, candles.index)
    if spec.mode == "atr":
        width = talib.ATR(h, lo, c, timeperiod=spec.atr_period) / c
        up, down = spec.take_profit * width[:m], spec.stop_loss * width[:m]
    else:
        up, down = np.full(m, spec.take_profit), np.full(m, spec.stop_loss)
    _barriers(h, lo, c, up, down, horizon, block)
    return _frame(block, candles.index)


@numba.njit(cache=True, nogil=True)
def _barriers(high, low, close, up, down, horizon, out):  # pragma: no cover - compiled
    """The first-touch scan, compiled: each bar stops at its first touched barrier."""
    for t in range(up.shape[0]):
        if not (np.isfinite(up[t]) and np.isfinite(down[t])):
            out[4, t] = close[t + horizon] / close[t] - 1  # ATR warm-up: no barrier width yet
            continue
        upper, lower = close[t] * (1 + up[t]), close[t] * (1 - down[t])
        barrier, bars = 0.0, horizon
        for k in range(1, horizon + 1):
            if low[t + k] <= lower:  # checked first: on a bar touching both, the stop-loss wins
                barrier, bars = -1.0, k
                break
            if high[t + k] >= upper:
                barrier, bars = 1.0, k
                break
        ret = close[t + horizon] / close[t] - 1
        out[0, t] = barrier if barrier != 0 else np.sign(ret)
        out[1, t] = barrier
        out[2, t] = bars
        out[3, t] = up[t] if barrier > 0 else (-down[t] if barrier < 0 else ret)
        out[4, t] = ret


def _frame(block: np.ndarray, index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(block.T, index=index, columns=list(LABEL_COLUMNS), copy=False)
