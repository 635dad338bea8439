"""Evaluation figures of probabilistic binary predictions, as logged to MLflow."""

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

CONFIDENT = 0.85


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC; NaN when only one class is present (undefined, never a fake 0.5)."""
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def scores(y: np.ndarray, p: np.ndarray, confident: float = CONFIDENT) -> dict[str, float]:
    """AUC, log loss, Brier, and precision/recall of the confident calls.

    A call is confident when p >= `confident` (up) or p <= 1 - `confident` (down);
    precision is the share of confident calls whose direction was right, recall the share
    of all samples that got a right confident call, coverage the share called at all.
    """
    p = np.clip(np.asarray(p, dtype="float64"), 1e-7, 1 - 1e-7)
    up, down = p >= confident, p <= 1 - confident
    called = up | down
    right = (up & (y == 1)) | (down & (y == 0))
    out = {"auc": auc(y, p), "log_loss": float(log_loss(y, p, labels=[0, 1])), "brier": float(brier_score_loss(y, p)),
           "coverage_at_85": float(called.mean()), "recall_at_85": float(right.mean())}
    if called.any():
        out["precision_at_85"] = float(right.sum() / called.sum())
    return out
