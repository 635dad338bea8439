"""The fused predictor as ONE MLflow pyfunc model: four base layers and the stacker, plus
what it needs to compute its own inputs from candles (the patterns' base rates, the
label and window settings). Serving loads `models:/tx-fused@champion` and calls it.

pyfunc input: candles, one row per bar — symbol, timeframe, timestamp (UTC; MLflow's
schema wants it timezone-naive), open, high, low, close, volume — for one or several
series (500+ bars each for exact indicators).
Param `last_n` (0 = every bar) keeps the last n bars of each series. The pyfunc path
carries no news: its sentiment layer answers the neutral 0.5 there. Callers that have the
symbol's news (the service) call `explain(candles, timeframe, news)` on the unwrapped model.
Output per bar: probability (take-profit first), each layer's probability (`p_<layer>`)
and its contribution in log-odds (`c_<layer>`), with `base` such that
logit(probability) = base + sum of contributions.
"""

from dataclasses import dataclass, field

import mlflow.pyfunc
import numpy as np
import pandas as pd

from features import BaseRates, LabelSpec
from training.layers import Layer
from training.layers.stacker import Stacker
from training.inputs import model_inputs

INPUT_COLUMNS = ("symbol", "timeframe", "timestamp", "open", "high", "low", "close", "volume")


@dataclass
class FusedModel(mlflow.pyfunc.PythonModel):
    layers: dict[str, Layer]
    stacker: Stacker
    base_rates_table: pd.DataFrame  # pattern outcomes known at training time (features.BaseRates source)
    window: int
    label_config: dict
    trained_through: dict[str, str] = field(default_factory=dict)  # "SYMBOL:TF" -> last labeled bar used (ISO)
    online: pd.DataFrame | None = None  # samples scored then learned online: time, series, y, p, scored_by, P_<layer>
    knowledge_cutoff: str = ""  # the latest time any label it learned from was known (ISO): later samples are unseen

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(self.layers)

    @property
    def label_spec(self) -> LabelSpec:
        """The labels it predicts (`label_config` stays the stored dict: MLflow params, feature-set hash)."""
        return LabelSpec.from_dict(self.label_config)

    def base_rates(self) -> BaseRates:
        if not hasattr(self, "_rates"):
            self._rates = BaseRates(self.base_rates_table)
        return self._rates

    def inputs(self, candles: pd.DataFrame, timeframe: str, news: pd.DataFrame | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        return model_inputs(candles, timeframe, base_rates=self.base_rates(), news=news, window=self.window)

    def layer_outputs(self, X: pd.DataFrame, windows: np.ndarray) -> np.ndarray:
        return np.column_stack([layer.predict(X, windows) for layer in self.layers.values()])

    def explain_inputs(self, X: pd.DataFrame, windows: np.ndarray) -> pd.DataFrame:
        P = self.layer_outputs(X, windows)
        base, contrib = self.stacker.contributions(P)
        out = pd.DataFrame({"probability": self.stacker.predict(P)}, index=X.index)
        for k, name in enumerate(self.layers):
            out[f"p_{name}"] = P[:, k]
        for k, name in enumerate(self.layers):
            out[f"c_{name}"] = contrib[:, k]
        out["base"] = base
        return out

    def explain(self, candles: pd.DataFrame, timeframe: str, news: pd.DataFrame | None = None, last_n: int = 0) -> pd.DataFrame:
        """Per bar of one series: the fused probability, each layer's output and contribution."""
        X, windows = self.inputs(candles, timeframe, news)
        if last_n:
            X, windows = X.iloc[-last_n:], windows[-last_n:]
        return self.explain_inputs(X, windows)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        missing = [c for c in INPUT_COLUMNS if c not in model_input.columns]
        if missing:
            raise ValueError(f"model input lacks column(s) {missing}; expected {list(INPUT_COLUMNS)}")
        last_n = int((params or {}).get("last_n", 0))
        parts = []
        for (symbol, timeframe), rows in model_input.groupby(["symbol", "timeframe"], sort=False):
            candles = rows.assign(timestamp=pd.to_datetime(rows["timestamp"], utc=True)).set_index("timestamp").sort_index()
            explained = self.explain(candles[["open", "high", "low", "close", "volume"]].astype("float64"), str(timeframe), last_n=last_n)
            explained.index = explained.index.tz_convert(None)
            parts.append(explained.reset_index(names="timestamp").assign(symbol=symbol, timeframe=timeframe))
        out = pd.concat(parts, ignore_index=True)
        return out[["symbol", "timeframe", "timestamp", *[c for c in out.columns if c not in ("symbol", "timeframe", "timestamp")]]]


def to_model_input(candles: pd.DataFrame, symbol: str, timeframe: str) -> pd.DataFrame:
    """Candles in the normal form as the pyfunc's input rows (timestamps naive UTC)."""
    frame = candles.reset_index(names="timestamp")
    frame["timestamp"] = frame["timestamp"].dt.tz_convert(None)
    return frame.assign(symbol=symbol, timeframe=timeframe)[list(INPUT_COLUMNS)]
