"""Windows of the last `length` bars for the deep layer: scale-free, point in time.

Per bar t the window holds bars t-length+1 .. t (never later): open/high/low/close as
log ratios to the close of t, so any price level looks the same, plus a few indicator
channels already in the feature frame. Bars before the series' start are zeros.
"""

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

PRICE_CHANNELS = ("open", "high", "low", "close")
INDICATOR_CHANNELS = ("ret_1", "rsi_14", "natr_14", "bb_pctb", "macd_hist", "stoch_k", "volume_z_20", "ema_dist_12", "ema_dist_50")
CHANNELS = PRICE_CHANNELS + INDICATOR_CHANNELS
WINDOW = 32


def windows(candles: pd.DataFrame, features: pd.DataFrame, length: int = WINDOW) -> np.ndarray:
    """(bars, length, channels) float32; NaN (warm-up, undefined indicators) become 0."""
    if not candles.index.equals(features.index):
        raise ValueError("candles and features must share one index")
    logp = np.log(candles[list(PRICE_CHANNELS)].to_numpy(dtype="float64"))
    values = np.concatenate([logp, features[list(INDICATOR_CHANNELS)].to_numpy(dtype="float64")], axis=1)
    padded = np.concatenate([np.full((length - 1, values.shape[1]), np.nan), values])
    out = sliding_window_view(padded, length, axis=0).transpose(0, 2, 1).astype(np.float32)  # (bars, length, channels)
    out[:, :, : len(PRICE_CHANNELS)] -= logp[:, 3, None, None].astype(np.float32)  # relative to the close of t
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
