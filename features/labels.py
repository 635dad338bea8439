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

import numba
import numpy as np
import pandas as pd
import talib

LABEL_COLUMNS = ("label", "barrier", "bars_to_hit", "realized_return", "horizon_return")


def triple_barrier(
    candles: pd.DataFrame,
    horizon: int = 10,
    take_profit: float = 2.0,
    stop_loss: float = 2.0,
    mode: str = "atr",
    atr_period: int = 14,
) -> pd.DataFrame:
    """Labels per bar; `mode` "atr" reads take_profit/stop_loss as ATR multiples, "pct" as fractions."""
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 bar, got {horizon}")
    if take_profit <= 0 or stop_loss <= 0:
        raise ValueError("take_profit and stop_loss must be > 0")
    h, lo, c = (candles[k].to_numpy(dtype="float64") for k in ("high", "low", "close"))
    n = len(c)
    block = np.full((len(LABEL_COLUMNS), n), np.nan)  # one row per column: becomes the frame's block as is
    m = n - horizon  # bars whose whole horizon is in the data
    if m <= 0:
        return _frame(block, candles.index)
    if mode == "atr":
        width = talib.ATR(h, lo, c, timeperiod=atr_period) / c
        up, down = take_profit * width[:m], stop_loss * width[:m]
    elif mode == "pct":
        up, down = np.full(m, take_profit), np.full(m, stop_loss)
    else:
        raise ValueError(f"mode must be 'atr' or 'pct', got {mode!r}")
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
