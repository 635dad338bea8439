"""Sentiment layer: logistic regression on the point-in-time news sentiment of the symbol
(`sent_*` columns from features/sentiment.py).

With too little news in the training data it does not pretend: it outputs the neutral
prior 0.5 ("no opinion", log-odds 0, so the stacker adds nothing from it) for every
sample and says so in `note`. Samples with no news so far get the same neutral 0.5.
"""

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

MIN_SAMPLES_WITH_NEWS = 50
NEUTRAL = 0.5


def _inputs(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    weight = X["sent_weight"].fillna(0.0).to_numpy(dtype="float64") if "sent_weight" in X else np.zeros(len(X))
    score = X["sent_score"].fillna(0.0).to_numpy(dtype="float64") if "sent_score" in X else np.zeros(len(X))
    return np.column_stack([score, np.log1p(weight)]), weight > 0


class SentimentLayer:
    name = "sentiment"

    def __init__(self, C: float = 1.0) -> None:
        self.C = C
        self.model_: LogisticRegression | None = None
        self.note = ""

    def fit(self, X: pd.DataFrame, windows: np.ndarray, y: np.ndarray) -> "SentimentLayer":
        inputs, has_news = _inputs(X)
        if has_news.sum() < MIN_SAMPLES_WITH_NEWS:
            self.model_ = None
            self.note = f"{int(has_news.sum())} training sample(s) with news (< {MIN_SAMPLES_WITH_NEWS}): neutral prior {NEUTRAL}"
            return self
        self.model_ = LogisticRegression(C=self.C).fit(inputs[has_news], y[has_news])
        self.note = f"{int(has_news.sum())} training samples with news"
        return self

    def predict(self, X: pd.DataFrame, windows: np.ndarray) -> np.ndarray:
        out = np.full(len(X), NEUTRAL)
        if self.model_ is not None:
            inputs, has_news = _inputs(X)
            if has_news.any():
                out[has_news] = self.model_.predict_proba(inputs[has_news])[:, 1]
        return out

    def params(self) -> dict:
        return {"C": self.C, "uses_news": self.model_ is not None}
