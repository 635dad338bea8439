"""Risk of a position or portfolio from its value history: volatility, drawdown, VaR, CVaR.

Historical (not parametric) VaR and CVaR: the loss quantile of the observed one-bar
returns and the mean loss beyond it, as positive fractions of the value — no normality
assumed, so fat tails show.
"""

import numpy as np
import pandas as pd


def periods_per_year(timeframe: str) -> float:
    if timeframe == "1w":
        return 52.0
    return 252.0 * (pd.Timedelta("1D") / pd.Timedelta(timeframe)) if timeframe != "1d" else 252.0


def max_drawdown(values: np.ndarray) -> float:
    """Largest peak-to-trough fall, as a positive fraction of the peak."""
    peaks = np.maximum.accumulate(values)
    return float(np.max(1 - values / peaks)) if len(values) else 0.0


def assess(values: pd.Series, timeframe: str, confidence: float = 0.95) -> dict[str, float]:
    """Risk figures of a value series (a position's or portfolio's market value per bar)."""
    if not 0.5 < confidence < 1:
        raise ValueError("confidence must be between 0.5 and 1 (e.g. 0.95)")
    v = values.to_numpy(dtype="float64")
    if len(v) < 3 or (v <= 0).any():
        raise ValueError("need at least 3 positive values to assess risk")
    r = v[1:] / v[:-1] - 1
    cut = np.quantile(r, 1 - confidence)
    tail = r[r <= cut]
    return {
        "value": float(v[-1]),
        "volatility_annualized": float(r.std(ddof=1) * np.sqrt(periods_per_year(timeframe))),
        "max_drawdown": max_drawdown(v),
        "var": float(-cut),
        "cvar": float(-tail.mean()),
        "var_amount": float(-cut * v[-1]),
        "cvar_amount": float(-tail.mean() * v[-1]),
        "confidence": confidence,
        "observations": int(len(r)),
    }
