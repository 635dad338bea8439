"""Pattern layer: a fixed rule over the point-in-time pattern confidences.

`cdl_net_conf` sums, over the patterns detected at the bar, direction x (confidence - 0.5):
how far the patterns' own track records (as known at the bar) lean up or down. The rule
moves the training base rate by that lean. The only fitted number is the base rate, so
the layer cannot overfit; its value is in being an honest, explainable prior.
"""

import numpy as np
import pandas as pd

from training.layers import base_rate

COLUMN = "cdl_net_conf"


class PatternLayer:
    name = "pattern"

    def __init__(self) -> None:
        self.base_ = 0.5
        self.note = ""

    def fit(self, X: pd.DataFrame, windows: np.ndarray, y: np.ndarray) -> "PatternLayer":
        self.base_ = base_rate(y)
        return self

    def predict(self, X: pd.DataFrame, windows: np.ndarray) -> np.ndarray:
        lean = X[COLUMN].fillna(0.0).to_numpy(dtype="float64") if COLUMN in X else np.zeros(len(X))
        return np.clip(self.base_ + lean, 0.02, 0.98)

    def params(self) -> dict:
        return {"rule": f"base_rate + {COLUMN}", "base_rate": round(self.base_, 4)}
