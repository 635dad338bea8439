"""Technical indicators in ML-ready form (ratios, distances, scaled oscillators), with TA-Lib.

Every column at bar t uses bars <= t only. Undefined values are NaN, never forward-filled
and never infinite: the warm-up of each window; RSI and stochastics over a window where
prices did not move (0/0; TA-Lib itself would say 0); Bollinger %b on a zero-width band;
volume z-score and OBV flow over windows without volume. A NaN in the input propagates
through the recursive indicators (EMA, RSI, ATR, ADX) from that bar on, by design:
candles reach here only after the blocking checks, which refuse NaN.
"""

import numpy as np
import pandas as pd
import talib

RETURN_WINDOWS = (1, 5, 10, 20)
VOL_WINDOWS = (10, 20, 60)
EMA_WINDOWS = (12, 26, 50, 200)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    out[~np.isfinite(out)] = np.nan
    return out


def indicators(candles: pd.DataFrame) -> pd.DataFrame:
    o, h, lo, c, v = (candles[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close", "volume"))
    cols: dict[str, np.ndarray] = {}
    logc = np.log(c)
    r1 = np.full_like(c, np.nan)
    r1[1:] = np.diff(logc)
    for w in RETURN_WINDOWS:  # log returns over w bars
        ret = np.full_like(c, np.nan)
        ret[w:] = logc[w:] - logc[:-w]
        cols[f"ret_{w}"] = ret
    for w in VOL_WINDOWS:  # realized volatility: std of 1-bar log returns
        cols[f"rvol_{w}"] = talib.STDDEV(r1, timeperiod=w, nbdev=1) * np.sqrt(w / (w - 1))
    flat_close = (talib.MAX(c, 15) - talib.MIN(c, 15)) == 0  # no gain, no loss: RSI is 0/0
    cols["rsi_14"] = np.where(flat_close, np.nan, talib.RSI(c, timeperiod=14) / 100 - 0.5)
    macd, signal, hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    cols["macd"], cols["macd_signal"], cols["macd_hist"] = _ratio(macd, c), _ratio(signal, c), _ratio(hist, c)
    upper, middle, lower = talib.BBANDS(c, timeperiod=20, nbdevup=2, nbdevdn=2)
    cols["bb_pctb"] = _ratio(c - lower, upper - lower)
    cols["bb_width"] = _ratio(upper - lower, middle)
    cols["natr_14"] = _ratio(talib.ATR(h, lo, c, timeperiod=14), c)
    cols["adx_14"] = talib.ADX(h, lo, c, timeperiod=14) / 100
    cols["di_diff_14"] = (talib.PLUS_DI(h, lo, c, timeperiod=14) - talib.MINUS_DI(h, lo, c, timeperiod=14)) / 100
    slowk, slowd = talib.STOCH(h, lo, c, fastk_period=14, slowk_period=3, slowk_matype=0, slowd_period=3, slowd_matype=0)
    flat_range = (talib.MAX(h, 14) - talib.MIN(lo, 14)) == 0  # %K is 0/0 on a flat range
    cols["stoch_k"] = np.where(flat_range, np.nan, slowk / 100 - 0.5)
    cols["stoch_d"] = np.where(flat_range, np.nan, slowd / 100 - 0.5)
    obv = talib.OBV(c, v)
    vol20 = talib.SUM(v, timeperiod=20)
    obv_change = np.full_like(c, np.nan)
    obv_change[20:] = obv[20:] - obv[:-20]
    cols["obv_flow_20"] = _ratio(obv_change, vol20)  # net signed volume share over 20 bars
    for w in EMA_WINDOWS:
        cols[f"ema_dist_{w}"] = _ratio(c, talib.EMA(c, timeperiod=w)) - 1
    vmean, vstd = talib.SMA(v, timeperiod=20), talib.STDDEV(v, timeperiod=20, nbdev=1)
    cols["volume_z_20"] = _ratio(v - vmean, vstd)
    cols["range_pct"] = _ratio(h - lo, c)
    cols["body_pct"] = _ratio(c - o, c)
    return pd.DataFrame(cols, index=candles.index)
