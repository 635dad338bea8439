"""Multi-timeframe layer: gradient boosting on the indicators of the bar's own timeframe and
the as-of joined higher timeframes (every feature but the per-pattern flags and sentiment).

HistGradientBoosting takes NaN (warm-ups, a timeframe without a higher one) natively. When
the labels are skewed, the majority class is under-sampled (imbalanced-learn) so the trees
do not learn the base rate alone; the stacker recalibrates the output.
"""

import numpy as np
import optuna
import pandas as pd
from imblearn.under_sampling import RandomUnderSampler
from sklearn.ensemble import HistGradientBoostingClassifier

EXCLUDED_PREFIXES = ("cdl_", "sent_")


def columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if not c.startswith(EXCLUDED_PREFIXES)]


class MultiTimeframeLayer:
    name = "multitimeframe"

    def __init__(self, learning_rate: float = 0.05, max_leaf_nodes: int = 15, min_samples_leaf: int = 100,
                 l2_regularization: float = 1.0, max_iter: int = 150, balance_below: float = 0.4, seed: int = 0) -> None:
        self.hyper = {"learning_rate": learning_rate, "max_leaf_nodes": max_leaf_nodes, "min_samples_leaf": min_samples_leaf,
                      "l2_regularization": l2_regularization, "max_iter": max_iter}
        self.balance_below, self.seed = balance_below, seed
        self.columns_: list[str] = []
        self.importance_: pd.Series | None = None
        self.note = ""

    @staticmethod
    def search_space(trial: optuna.Trial) -> dict:
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 7, 31),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 20, 400, log=True),
            "l2_regularization": trial.suggest_float("l2_regularization", 1e-3, 10.0, log=True),
            "max_iter": trial.suggest_int("max_iter", 50, 250, step=50),
        }

    def fit(self, X: pd.DataFrame, windows: np.ndarray, y: np.ndarray) -> "MultiTimeframeLayer":
        candidates = columns(X)
        self.columns_ = [c for c, defined in zip(candidates, X[candidates].notna().any().to_numpy(), strict=True) if defined]
        values = X[self.columns_].to_numpy(dtype="float64")  # (a column never defined in training cannot be learned from)
        minority = min(np.mean(y), 1 - np.mean(y)) if len(y) else 0.5
        if minority < self.balance_below:
            values, y = RandomUnderSampler(random_state=self.seed).fit_resample(values, y)
            self.note = f"labels skewed (minority {minority:.1%}): majority under-sampled to {len(y)} samples"
        else:
            self.note = ""
        self.model_ = HistGradientBoostingClassifier(**self.hyper, early_stopping=False, random_state=self.seed).fit(values, y)
        return self

    def predict(self, X: pd.DataFrame, windows: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(X.reindex(columns=self.columns_).to_numpy(dtype="float64"))[:, 1]

    def params(self) -> dict:
        return {**self.hyper, "balance_below": self.balance_below, "features": len(self.columns_)}
