"""Scoring and explaining one bar with a registered version: what the service answers and
the alert scanner records.

Features come from `FusedModel.inputs` — the same functions the batch pipeline uses on
the same candles (the parity test proves it) — never from a separate serving path.

A score is a typed value (`Score`); its numbers are kept at PLACES decimals, the precision
that alerts are decided on, prediction rows store and the API answers. How it is written
as JSON (times as ISO strings, dicts) is serving's business (serving/scores.py).
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from training.model import FusedModel


class Versioned(Protocol):  # serving.champion.Served, ModelAt, or any (model, version) pair
    model: FusedModel
    version: str


@dataclass(frozen=True)
class ModelAt:
    """A registered version loaded outside the service (the alert scanner, scripts)."""

    model: FusedModel
    version: str


NEUTRAL_BAND = 0.05  # |p - 0.5| below this: no direction
MIN_BARS = 30  # fewer bars leave most indicators undefined
FULL_BARS = 500  # from here on the indicators match the batch pipeline's to 1e-3
HISTORY_BARS = FULL_BARS + 100  # stored bars read to score a stored symbol: FULL_BARS with a margin
PLACES = 6  # a score's numbers are kept to this many decimals


def _kept(x: Any) -> float:
    return round(float(x), PLACES)


def direction(p: float) -> str:
    return "up" if p >= 0.5 + NEUTRAL_BAND else "down" if p <= 0.5 - NEUTRAL_BAND else "neutral"


@dataclass(frozen=True)
class LayerOutput:
    probability: float  # the layer's own P(take-profit first)
    contribution: float  # its push on the fused log-odds


@dataclass(frozen=True)
class PatternHit:
    pattern: str  # the name without the cdl_ prefix, e.g. "engulfing"
    direction: str  # bullish | bearish
    strength: int
    confidence: float | None  # the pattern's hit rate so far at this bar (4 decimals); None: too few outcomes


@dataclass(frozen=True)
class Score:
    """The fused model's score of the last bar of a series, each layer's part in it, and why."""

    probability: float  # P(take-profit is hit before the stop)
    direction: str  # up | down | neutral
    confidence: float  # max(p, 1 - p)
    model_version: str
    timeframe: str
    as_of: pd.Timestamp  # the scored bar (tz-aware UTC)
    layers: Mapping[str, LayerOutput]  # in the model's layer order
    base: float  # the stacker's base log-odds
    patterns: tuple[PatternHit, ...]  # at the bar, strongest first
    explanation: str
    bars_used: int
    warning: str | None = None  # set when fewer than FULL_BARS bars were scored

    def prediction_row(self, symbol: str, model_name: str) -> dict[str, Any]:
        """The row stored for this score in `predictions` (store/predictions.py), judged later
        against the label its bar matures to."""
        return {"symbol": symbol, "timeframe": self.timeframe, "ts": self.as_of.to_pydatetime(), "model_name": model_name,
                "model_version": self.model_version, "probability": self.probability, "direction": self.direction,
                "confidence": self.confidence, "layers": {name: out.probability for name, out in self.layers.items()},
                "score": self.record()}

    def record(self) -> dict[str, Any]:
        """The score as plain JSON types (what `predictions.score` stores); `from_record` reads it back equal."""
        return {**asdict(self), "as_of": self.as_of.isoformat(), "layers": {n: asdict(o) for n, o in self.layers.items()},
                "patterns": [asdict(p) for p in self.patterns]}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Score":
        return cls(**{**record, "as_of": pd.Timestamp(record["as_of"]),
                      "layers": {n: LayerOutput(**o) for n, o in record["layers"].items()},
                      "patterns": tuple(PatternHit(**p) for p in record["patterns"])})


def patterns_at(X: pd.DataFrame) -> tuple[PatternHit, ...]:
    """Patterns detected at the last bar, strongest first, with the bar's pattern confidences."""
    row = X.iloc[-1]
    found = [(c.removeprefix("cdl_"), int(v)) for c, v in row.items()
             if c.startswith("cdl_") and c not in ("cdl_bull_conf", "cdl_bear_conf", "cdl_count", "cdl_net_conf") and v]
    out = []
    for name, signed in sorted(found, key=lambda f: -abs(f[1])):
        conf = row["cdl_bull_conf"] if signed > 0 else row["cdl_bear_conf"]
        out.append(PatternHit(name, "bullish" if signed > 0 else "bearish", abs(signed), None if pd.isna(conf) else round(float(conf), 4)))
    return tuple(out)


def explanation(p: float, layers: Mapping[str, LayerOutput], patterns: tuple[PatternHit, ...]) -> str:
    """A few plain sentences built from the contributions and the strongest patterns."""
    ranked = sorted(layers.items(), key=lambda kv: -abs(kv[1].contribution))
    words = [f"The fused model gives {p:.2f} that the take-profit is hit before the stop ({direction(p)})."]
    movers = [(n, v.contribution) for n, v in ranked if abs(v.contribution) >= 0.01]
    if movers:
        words.append("; ".join(f"the {n} layer {'pushes up' if c > 0 else 'pulls down'} ({c:+.2f} log-odds)" for n, c in movers[:3]).capitalize() + ".")
    else:
        words.append("No layer moves it far from the base rate.")
    if patterns:
        top = patterns[0]
        conf = f", {top.confidence:.0%} hit rate so far" if top.confidence is not None else ""
        words.append(f"Strongest pattern at this bar: {top.pattern.replace('_', ' ')} ({top.direction}{conf}).")
    return " ".join(words)


Inputs = tuple[pd.DataFrame, np.ndarray]  # (features, windows) from FusedModel.inputs


def score(served: Versioned, candles: pd.DataFrame, timeframe: str, news: pd.DataFrame | None = None, inputs: Inputs | None = None) -> Score:
    """The fused probability of the last bar, each layer's output and contribution, and why.
    `inputs` skips recomputing the features when the caller has them."""
    model = served.model
    X, windows = inputs or model.inputs(candles, timeframe, news)
    row = model.explain_inputs(X.iloc[-1:], windows[-1:]).iloc[0]
    p = float(row["probability"])
    layers = {name: LayerOutput(_kept(row[f"p_{name}"]), _kept(row[f"c_{name}"])) for name in model.layer_names}
    found = patterns_at(X)
    warning = (f"{len(candles)} bars: long indicators (EMA 200) need {FULL_BARS}+ to match the batch features"
               if len(candles) < FULL_BARS else None)
    return Score(probability=_kept(p), direction=direction(p), confidence=_kept(max(p, 1 - p)), model_version=served.version,
                 timeframe=timeframe, as_of=candles.index[-1], layers=layers, base=_kept(row["base"]), patterns=found,
                 explanation=explanation(p, layers, found), bars_used=len(candles), warning=warning)


@dataclass(frozen=True)
class DeepView:
    """The deep layer at the last window: the mean of its nets and each net's probability."""

    probability: float
    nets: Mapping[str, float]  # cnn, lstm
    window_bars: int
    model_version: str
    as_of: pd.Timestamp


def deep_layer(served: Versioned, candles: pd.DataFrame, timeframe: str) -> DeepView:
    X, windows = served.model.inputs(candles, timeframe)
    parts = served.model.layers["deep"].predict_parts(windows[-1:])
    nets = {kind: _kept(v[0]) for kind, v in parts.items()}
    return DeepView(_kept(np.mean(list(nets.values()))), nets, int(windows.shape[1]), served.version, candles.index[-1])


@dataclass(frozen=True)
class FeatureEffect:
    feature: str
    value: float | None  # None: missing at this bar
    effect: float  # how far the probability moves when the feature is set to missing


@dataclass(frozen=True)
class MultiTimeframeView:
    probability: float
    features: tuple[FeatureEffect, ...]  # strongest effect first
    model_version: str
    as_of: pd.Timestamp


def multitimeframe_layer(served: Versioned, candles: pd.DataFrame, timeframe: str, top: int = 10,
                         inputs: Inputs | None = None) -> MultiTimeframeView:
    """The layer's probability and the features that move it most at this bar (each set to
    missing in turn: how far the probability moves)."""
    layer = served.model.layers["multitimeframe"]
    X, windows = inputs or served.model.inputs(candles, timeframe)
    last = X.iloc[-1:].reindex(columns=layer.columns_)
    p = float(layer.predict(last, windows[-1:])[0])
    n = len(layer.columns_)
    values = np.repeat(last.to_numpy(dtype="float64"), n, axis=0)
    values[np.arange(n), np.arange(n)] = np.nan
    probes = pd.DataFrame(values, columns=layer.columns_)
    moved = p - layer.predict(probes, windows[-1:].repeat(len(probes), 0))
    order = np.argsort(-np.abs(moved))[:top]
    feats = tuple(FeatureEffect(layer.columns_[i], None if pd.isna(last.iat[0, i]) else _kept(last.iat[0, i]), _kept(moved[i]))
                  for i in order)
    return MultiTimeframeView(_kept(p), feats, served.version, candles.index[-1])
