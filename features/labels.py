"""Triple-barrier labels, vectorized: no Python loop over bars.

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
    out = dict(zip(LABEL_COLUMNS, block, strict=True))
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
    entry = c[:m]
    upper, lower = entry * (1 + up), entry * (1 - down)
    never = horizon + 1
    first_up = np.full(m, never, dtype=np.int16)
    first_dn = np.full(m, never, dtype=np.int16)
    for k in range(horizon, 0, -1):  # a loop over the horizon (bars ahead), vectorized over all bars
        np.putmask(first_up, h[k : k + m] >= upper, k)  # going backwards, the earliest touch is written last
        np.putmask(first_dn, lo[k : k + m] <= lower, k)
    horizon_ret = c[horizon:] / entry - 1
    tp_first = first_up < first_dn
    sl_first = (first_dn <= first_up) & (first_dn < never)
    barrier = tp_first.astype(np.float64) - sl_first
    undefined = np.isnan(upper) | np.isnan(lower)  # ATR warm-up: no barrier width yet
    barrier[undefined] = np.nan
    out["barrier"][:m] = barrier
    out["label"][:m] = np.where(barrier == 0, np.sign(horizon_ret), barrier)
    out["bars_to_hit"][:m] = np.where(undefined, np.nan, np.minimum(np.minimum(first_up, first_dn), horizon))
    out["realized_return"][:m] = np.where(tp_first, up, np.where(sl_first, -down, horizon_ret))
    out["realized_return"][:m][undefined] = np.nan
    out["horizon_return"][:m] = horizon_ret
    return _frame(block, candles.index)


def _frame(block: np.ndarray, index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(block.T, index=index, columns=list(LABEL_COLUMNS), copy=False)
