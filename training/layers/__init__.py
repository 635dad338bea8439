"""The four base layers of the fused predictor, each giving P(take-profit wins) per sample.

Every layer has the same small interface, so that walk-forward, tuning, the final fit
and serving treat them alike:

    layer.fit(X, windows, y) -> layer       X: feature frame, windows: (n, W, C) float32
    layer.predict(X, windows) -> ndarray     probabilities in (0, 1)
    layer.params() -> dict                   what MLflow logs
    layer.note -> str                        one line on what the fit did ("" if nothing to say)

The composite (stacker) sits over their out-of-fold outputs: training/layers/stacker.py.
"""

from typing import Protocol

import numpy as np
import pandas as pd


class Layer(Protocol):
    name: str
    note: str

    def fit(self, X: pd.DataFrame, windows: np.ndarray, y: np.ndarray) -> "Layer": ...

    def predict(self, X: pd.DataFrame, windows: np.ndarray) -> np.ndarray: ...

    def params(self) -> dict[str, float | int | str]: ...


def base_rate(y: np.ndarray) -> float:
    """The positive share, kept off 0 and 1 so that its logit stays finite."""
    return float(np.clip(np.mean(y), 0.01, 0.99)) if len(y) else 0.5
