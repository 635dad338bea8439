"""The composite: a logistic regression over the layers' out-of-fold log-odds.

Fitting a logistic regression on log-odds minimizes log loss, i.e. it is Platt scaling of
the combination: the fused probability is calibrated by construction (the calibration
plot in MLflow shows it). Being linear in log-odds, it explains itself exactly:

    logit(fused) = base + sum_i coef_i * (logit(p_i) - ref_i)

with ref_i the layer's mean training log-odds; each term is that layer's contribution.
"""

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

EPS = 1e-4


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype="float64"), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def recency_weights(n: int, half_life: float) -> np.ndarray | None:
    """Weights of `n` time-ordered samples, the newest 1 and halving every `half_life`
    samples back (None, i.e. equal weights, for a half-life of 0)."""
    if half_life <= 0:
        return None
    return 0.5 ** (np.arange(n - 1, -1, -1, dtype="float64") / half_life)


class Stacker:
    def __init__(self, layers: tuple[str, ...], C: float = 1.0) -> None:
        self.layers, self.C = layers, C

    def fit(self, P: np.ndarray, y: np.ndarray) -> "Stacker":
        Z = logit(P)
        self.ref_ = Z.mean(axis=0)
        self.model_ = LogisticRegression(C=self.C).fit(Z - self.ref_, y)
        self.P_, self.y_ = P, y  # kept for warm-started online updates
        return self

    def update(self, P: np.ndarray, y: np.ndarray, half_life: float = 0) -> "Stacker":
        """Online step: refit warm-started from the current weights on everything seen so far,
        each sample weighted 0.5 ** (age / half_life), its age counted in samples from the
        newest (`P` after the stored ones, both in time order; `half_life` 0: equal weights).

        Why a recency weight: with equal weights a few hundred new labels barely move a fit on
        thousands of older ones, so after the market changes how the layers' outputs relate to
        the label the line keeps the old relation for as long again as it held. Weighted, the
        fit forgets at a known rate (samples older than a few half-lives hardly count) and
        follows a change within about one half-life, at a small cost in noise when nothing
        changed (tests/training/test_online.py measures both)."""
        P_all, y_all = np.concatenate([self.P_, P]), np.concatenate([self.y_, y])
        model = LogisticRegression(C=self.C, warm_start=True)
        model.coef_, model.intercept_, model.classes_ = self.model_.coef_.copy(), self.model_.intercept_.copy(), self.model_.classes_
        self.model_ = model.fit(logit(P_all) - self.ref_, y_all, sample_weight=recency_weights(len(y_all), half_life))
        self.P_, self.y_ = P_all, y_all
        return self

    def predict(self, P: np.ndarray) -> np.ndarray:
        """The fused probability, from the contributions row by row: a bar's probability does not
        depend on how many bars are scored with it (a matrix product's rounding does, by 1e-16)."""
        base, contributions = self.contributions(P)
        return expit(base + contributions.sum(axis=1))

    def contributions(self, P: np.ndarray) -> tuple[float, np.ndarray]:
        """(base log-odds, per-layer contributions in log-odds), summing to logit(fused)."""
        return float(self.model_.intercept_[0]), (logit(P) - self.ref_) * self.model_.coef_[0]

    def weights(self) -> dict[str, float]:
        return dict(zip(self.layers, map(float, self.model_.coef_[0]), strict=True))
