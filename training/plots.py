"""Evaluation plots of a training run, as matplotlib figures (logged to MLflow as PNG)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import confusion_matrix, roc_curve  # noqa: E402


def roc(frame: pd.DataFrame, columns: dict[str, str], title: str) -> plt.Figure:
    """ROC curves of several probability columns of `frame` against `y`."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for label, column in columns.items():
        fpr, tpr, _ = roc_curve(frame["y"], frame[column])
        ax.plot(fpr, tpr, linewidth=1.6 if column == "fused" else 0.9, label=label)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(fontsize=7)
    return fig


def calibration(y: np.ndarray, p: np.ndarray, title: str, bins: int = 10) -> plt.Figure:
    fig, (ax, ax_hist) = plt.subplots(2, 1, figsize=(5, 5), gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    observed, predicted = calibration_curve(y, p, n_bins=bins, strategy="quantile")
    ax.plot(predicted, observed, marker="o", linewidth=1)
    lo, hi = float(min(predicted.min(), observed.min())), float(max(predicted.max(), observed.max()))
    ax.plot([lo, hi], [lo, hi], color="grey", linestyle=":", linewidth=0.8)
    ax.set(ylabel="observed take-profit rate", title=title)
    ax_hist.hist(p, bins=40, color="#888888")
    ax_hist.set(xlabel="predicted probability", ylabel="samples")
    return fig


def bars(values: pd.Series, title: str, xlabel: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(values) + 1.2))
    ax.barh(values.index[::-1], values.to_numpy()[::-1], color="#1f5aa6")
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set(xlabel=xlabel, title=title)
    ax.tick_params(labelsize=7)
    return fig


def fold_auc(folds: pd.DataFrame, columns: list[str], threshold: float) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    width = 0.8 / len(columns)
    for j, column in enumerate(columns):
        ax.bar(folds["fold"] + j * width, folds[column], width=width, label=column.removeprefix("auc_"))
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=0.8)
    ax.axhline(threshold, color="#c0392b", linestyle="--", linewidth=0.8, label=f"gate {threshold}")
    ax.set(xlabel="walk-forward fold", ylabel="AUC", ylim=(0.3, 0.9), title="AUC per walk-forward fold")
    ax.legend(fontsize=6, ncol=3)
    return fig


def confusion(y: np.ndarray, p: np.ndarray, title: str) -> plt.Figure:
    matrix = confusion_matrix(y, (p >= 0.5).astype(int), labels=[0, 1])
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center")
    ax.set_xticks([0, 1], ["stop/down", "take-profit/up"], fontsize=7)
    ax.set_yticks([0, 1], ["stop/down", "take-profit/up"], fontsize=7)
    ax.set(xlabel="predicted (p >= 0.5)", ylabel="actual", title=title)
    return fig
